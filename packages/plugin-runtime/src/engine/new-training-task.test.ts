import { type Id, ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { EngineInstance } from "./engine-instance.js";
import { newTrainingTask, parseTrainInput, saveTarget } from "./new-training-task.js";

const instance: EngineInstance = {
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config: {},
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

describe("parseTrainInput", () => {
  it("fills pluginInstance with the instance's id", () => {
    expect(parseTrainInput({ trainingEpochs: 2 }, instance, "runtime")).toEqual({
      trainingEpochs: 2,
      pluginInstance: "inst",
    });
  });

  it("refuses another instance's id, prefixed with the component", () => {
    expect(() => parseTrainInput({ pluginInstance: "other" }, instance, "engine-bullmq")).toThrow(
      '[engine-bullmq] Invalid pluginInstance: "other" does not match the instance "inst" being trained',
    );
  });

  it("refuses an invalid input", () => {
    expect(() => parseTrainInput({ trainingEpochs: -1 }, instance, "runtime")).toThrow(
      ValidationError,
    );
  });
});

describe("newTrainingTask", () => {
  const now = new Date("2025-03-01T14:00:00.000Z");
  const base = {
    taskId: "t1" as Id,
    instance,
    input: { pluginInstance: "inst" as Id },
    now,
    timeoutMs: 60_000,
    handle: "h1" as Id,
    setAsDefault: false,
  };

  it("is a waiting task with its deadline, save and empty history", () => {
    expect(newTrainingTask({ ...base, generatedHandle: false })).toEqual({
      schemaVersion: 1,
      taskId: "t1",
      instanceId: "inst",
      plugin: "plug",
      state: "waiting",
      createdAt: "2025-03-01T14:00:00.000Z",
      updatedAt: "2025-03-01T14:00:00.000Z",
      deadline: "2025-03-01T14:01:00.000Z",
      input: { pluginInstance: "inst" },
      save: { handle: "h1", setAsDefault: false },
      statusChecks: 0,
      updates: [],
    });
  });

  it("saves a generated handle create-only", () => {
    expect(newTrainingTask({ ...base, generatedHandle: true }).save).toEqual({
      handle: "h1",
      setAsDefault: false,
      createOnly: true,
    });
  });
});

describe("saveTarget", () => {
  it("generates a handle only when none is asked, and defaults setAsDefault to true", () => {
    let generated = 0;
    const generate = () => {
      generated++;
      return "gen" as Id;
    };
    expect(saveTarget({}, generate)).toEqual({
      handle: "gen",
      generatedHandle: true,
      setAsDefault: true,
    });
    expect(saveTarget({ handle: "mine", setAsDefault: false }, generate)).toEqual({
      handle: "mine",
      generatedHandle: false,
      setAsDefault: false,
    });
    expect(generated).toBe(1);
  });

  it("refuses a malformed handle with a ValidationError", () => {
    expect(() => saveTarget({ handle: "../x" }, () => "gen" as Id)).toThrow(ValidationError);
  });
});
