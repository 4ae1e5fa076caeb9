import {
  type PluginRequest,
  TrainingError,
  type TrainingParameterPluginInput,
} from "@trainable/core";
import { describe, expect, it } from "vitest";
import { checkedInstanceIds, checkedTrainingParameters } from "./training-parameters-answer.js";

const request = (value: object) => value as PluginRequest<TrainingParameterPluginInput>;

describe("checkedInstanceIds", () => {
  it("is the context's instance when the data agrees (or names none)", () => {
    expect(
      checkedInstanceIds(
        request({ context: { pluginInstanceId: "a" }, data: { pluginInstance: "a" } }),
      ),
    ).toBe("a");
    expect(checkedInstanceIds(request({ data: { pluginInstance: "b" } }))).toBeUndefined();
  });

  it("refuses data naming another instance", () => {
    expect(() =>
      checkedInstanceIds(
        request({ context: { pluginInstanceId: "a" }, data: { pluginInstance: "b" } }),
      ),
    ).toThrow('"b" does not match the plugin instance "a" the request is for');
  });
});

describe("checkedTrainingParameters", () => {
  it("takes a missing answer as empty parameters", () => {
    expect(checkedTrainingParameters(undefined, "p")).toEqual({});
  });

  it("refuses an invalid answer with a TrainingError naming the plugin", () => {
    try {
      checkedTrainingParameters({ trainingEpochs: "many" }, "demo");
      expect.unreachable();
    } catch (error) {
      expect(TrainingError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /^\[runtime\] demo\.getTrainingParameters returned an invalid answer: /,
      );
    }
  });
});
