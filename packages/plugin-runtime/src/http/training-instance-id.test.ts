import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { TrainRequest } from "../training/train-request.js";
import { trainingInstanceId } from "./training-instance-id.js";

const request = (value: object) => value as TrainRequest;

describe("trainingInstanceId", () => {
  it("is the context's instance, else the data's", () => {
    expect(
      trainingInstanceId(
        request({ context: { pluginInstanceId: "a" }, data: { pluginInstance: "b" } }),
      ),
    ).toBe("a");
    expect(trainingInstanceId(request({ data: { pluginInstance: "b" } }))).toBe("b");
  });

  it("is required", () => {
    expect(() => trainingInstanceId(request({}))).toThrow(/context\.pluginInstanceId/);
  });

  it("names the field a bad id came from", () => {
    expect(() => trainingInstanceId(request({ data: { pluginInstance: "../x" } }))).toThrow(
      /data\.pluginInstance/,
    );
    try {
      trainingInstanceId(request({ context: { pluginInstanceId: "a b" } }));
      expect.unreachable();
    } catch (error) {
      expect(ValidationError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain("context.pluginInstanceId");
    }
  });
});
