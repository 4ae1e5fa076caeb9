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

describe("JsonObject refuses what JSON cannot carry, naming the path", () => {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  it.each([
    ["a BigInt", { step: 10n }, ["step"]],
    ["NaN", { loss: Number.NaN }, ["loss"]],
    ["Infinity deep inside", { a: { b: [1, Number.POSITIVE_INFINITY] } }, ["a", "b", 1]],
    ["a function", { f: () => 1 }, ["f"]],
    ["undefined in an array", { xs: [1, undefined] }, ["xs", 1]],
    ["a Date", { at: new Date(0) }, ["at"]],
    ["a cycle", cycle, ["self"]],
  ])("%s", (_label, value, path) => {
    const result = JsonObject.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.slice(0, path.length)).toEqual(path);
  });
});
