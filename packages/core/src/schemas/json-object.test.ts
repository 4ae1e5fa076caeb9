import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import { JsonObject } from "./json-object.js";

describe("JsonObject schema", () => {
  it.each([
    {},
    { learningRate: 0.001 },
    { labels: ["spam", "ham"], nested: { deep: { ok: true } }, nothing: null },
  ])("accepts %j unchanged", (value) => {
    expect(JsonObject.parse(value)).toEqual(value);
  });

  it.each([
    ["array", []],
    ["array of pairs", [["a", 1]]],
    ["null", null],
    ["string", "{}"],
    ["number", 1],
    ["boolean", true],
    ["undefined", undefined],
  ])("rejects %s", (_label, value) => {
    expectIssuePaths(JsonObject, value, ["(root)"], "trainingParams");
  });

  it("does not let a __proto__ key change the prototype of the result", () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const output = JsonObject.parse(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(output.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(output.a).toBe(1);
  });
});
