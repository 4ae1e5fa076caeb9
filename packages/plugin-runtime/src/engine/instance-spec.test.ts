import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { EngineInstance } from "./engine-instance.js";
import { nextInstance, parseInstanceSpec } from "./instance-spec.js";

describe("parseInstanceSpec", () => {
  it("checks the ids and defaults replace to false", () => {
    expect(parseInstanceSpec({ id: "a", plugin: "p", config: { x: 1 } })).toEqual({
      id: "a",
      plugin: "p",
      handle: undefined,
      config: { x: 1 },
      replace: false,
    });
    expect(parseInstanceSpec({ id: "a", plugin: "p", handle: "h", replace: true })).toMatchObject({
      handle: "h",
      replace: true,
    });
  });

  it("refuses a bad id, plugin or handle, naming the field", () => {
    expect(() => parseInstanceSpec({ id: "../x", plugin: "p" })).toThrow(ValidationError);
    expect(() => parseInstanceSpec({ id: "a", plugin: "" })).toThrow(/plugin/);
    expect(() => parseInstanceSpec({ id: "a", plugin: "p", handle: "a/b" })).toThrow(/handle/);
  });
});

describe("nextInstance", () => {
  const spec = parseInstanceSpec({ id: "a", plugin: "p", handle: "h" });
  const at = "2025-03-01T00:00:00.000Z";
  const existing: EngineInstance = {
    schemaVersion: 1,
    id: spec.id,
    plugin: spec.plugin,
    handle: spec.handle,
    config: { x: 1 },
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
  };

  it("records a new instance with the validated config", () => {
    const { instance, change } = nextInstance({ spec, config: { x: 1 }, existing: undefined, at });
    expect(change).toBe("new");
    expect(instance).toEqual({ ...existing, createdAt: at, updatedAt: at });
  });

  it("says `same` for an identical instance, keeping its creation time", () => {
    const { instance, change } = nextInstance({ spec, config: { x: 1 }, existing, at });
    expect(change).toBe("same");
    expect(instance.createdAt).toBe(existing.createdAt);
  });

  it("says `replace` when the config, handle or plugin differs", () => {
    expect(nextInstance({ spec, config: { x: 2 }, existing, at }).change).toBe("replace");
    const other = parseInstanceSpec({ id: "a", plugin: "p" });
    expect(nextInstance({ spec: other, config: { x: 1 }, existing, at }).change).toBe("replace");
    const moved = parseInstanceSpec({ id: "a", plugin: "q", handle: "h" });
    expect(nextInstance({ spec: moved, config: { x: 1 }, existing, at }).change).toBe("replace");
  });
});
