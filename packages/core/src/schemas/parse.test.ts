import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ValidationError } from "../errors/validation-error.js";
import { rejectionOf } from "./__fixtures__/helpers.js";
import { parseWith } from "./parse.js";
import { TrainPluginInput } from "./train-plugin-input.js";

describe("parseWith", () => {
  it("returns the parsed output (unknown keys stripped, transforms applied)", () => {
    const schema = z.object({ n: z.string().transform((s) => Number(s)) });
    expect(parseWith(schema, { n: "42", extra: true }, "thing")).toEqual({ n: 42 });
    const input = parseWith(
      TrainPluginInput,
      { pluginInstance: "x", modelName: "old" },
      "TrainPluginInput",
    );
    expect(input).toEqual({ pluginInstance: "x" });
  });

  it("throws a ValidationError naming component, what and every bad field", () => {
    const error = rejectionOf(
      TrainPluginInput,
      { pluginInstance: "../x", trainingEpochs: -3, testingHoldoutPercent: 1.5 },
      "TrainPluginInput",
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.code).toBe("VALIDATION");
    expect(error.message).toMatch(/^\[core\] Invalid TrainPluginInput: /);
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      "pluginInstance",
      "testingHoldoutPercent",
      "trainingEpochs",
    ]);
    expect(error.cause).toBeInstanceOf(z.ZodError);
    expect((error.cause as z.ZodError).issues).toHaveLength(error.issues.length);
  });

  it("uses the component it is given", () => {
    let caught: unknown;
    try {
      parseWith(z.number(), "x", "request body", "runtime");
    } catch (error) {
      caught = error;
    }
    expect(ValidationError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/^\[runtime\] Invalid request body: \(root\): /);
  });

  it("only throws ValidationError, never a raw ZodError", () => {
    for (const input of [undefined, null, 1, "s", [], {}, { pluginInstance: 1 }]) {
      try {
        parseWith(TrainPluginInput, input, "TrainPluginInput");
        throw new Error("should have thrown");
      } catch (error) {
        expect(ValidationError.isInstance(error)).toBe(true);
        expect(error).not.toBeInstanceOf(z.ZodError);
      }
    }
  });
});
