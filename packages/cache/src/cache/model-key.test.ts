import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { canonicalJson, kindKeyMemo, modelKindKey } from "./model-key.js";

function problem(value: unknown): string {
  try {
    canonicalJson(value);
  } catch (error) {
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as ValidationError).issues[0]?.path).toBe("config");
    return (error as Error).message;
  }
  throw new Error("expected a ValidationError");
}

describe("canonicalJson", () => {
  it("sorts object keys at every depth and keeps array order", () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
    const b = { a: { c: "x", d: [3, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(canonicalJson(Object.assign(Object.create(null), { b: 1, a: 2 }))).toBe('{"a":2,"b":1}');
  });

  it("matches JSON for plain values, and leaves out undefined properties as JSON does", () => {
    for (const v of [null, true, false, 0, -1.5, 1e21, "", "é\n\u2028", [], {}, [null, [{}]]]) {
      expect(canonicalJson(v)).toBe(JSON.stringify(v));
    }
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson(-0)).toBe("0");
  });

  it("refuses what JSON cannot carry, naming config and the path", () => {
    expect(problem({ step: 10n })).toMatch(
      /^\[cache\] Invalid config: step: a BigInt is not JSON$/,
    );
    expect(problem({ f: () => 1 })).toMatch(/f: a function is not JSON/);
    expect(problem({ s: Symbol("x") })).toMatch(/s: a symbol is not JSON/);
    expect(problem({ a: { b: [1, Number.NaN] } })).toMatch(/a\.b\[1\]: NaN is not JSON/);
    expect(problem({ x: Number.POSITIVE_INFINITY })).toMatch(/x: Infinity is not JSON/);
    expect(problem({ xs: [1, undefined] })).toMatch(/xs\[1\]: undefined is not JSON/);
    expect(problem({ at: new Date(0) })).toMatch(/at: must be plain JSON, not a Date/);
    expect(problem({ m: new Map() })).toMatch(/m: must be plain JSON, not a Map/);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(problem(cycle)).toMatch(/self: is a circular reference/);
    expect(problem(undefined)).toMatch(/^\[cache\] Invalid config: undefined is not JSON$/);
    // A repeated (not circular) object is fine.
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"k":1},"b":[{"k":1}]}');
  });
});

describe("modelKindKey", () => {
  it("tells classes apart by identity, not by name", () => {
    const A = (() => class Model {})();
    const B = (() => class Model {})();
    expect(A.name).toBe(B.name);
    expect(modelKindKey({ modelClass: A })).not.toBe(modelKindKey({ modelClass: B }));
    expect(modelKindKey({ modelClass: A })).toBe(modelKindKey({ modelClass: A }));
    expect(modelKindKey({ modelClass: A })).toMatch(/^class="Model"\/\d+$/);
  });

  it("keys configs canonically, and keeps a string kind as given", () => {
    const M = class M {};
    expect(modelKindKey({ modelClass: M, config: { a: 1, b: 2 } })).toBe(
      modelKindKey({ modelClass: M, config: { b: 2, a: 1 } }),
    );
    expect(modelKindKey({ modelClass: M, config: { a: 1 } })).not.toBe(
      modelKindKey({ modelClass: M, config: { a: 2 } }),
    );
    expect(modelKindKey({})).toBe("");
    expect(modelKindKey({ kind: "K" })).toBe('kind="K"');
    // Every part is self-delimiting: a kind cannot imitate a class or a config.
    expect(modelKindKey({ kind: 'K" config={}' })).not.toBe(
      modelKindKey({ kind: "K", config: {} }),
    );
  });

  it("refuses a kind that is not a string, a modelClass that is not an object, a non-JSON config", () => {
    const field = (options: Parameters<typeof modelKindKey>[0]) => {
      try {
        modelKindKey(options);
      } catch (error) {
        return (error as ValidationError).issues[0]?.path;
      }
      return undefined;
    };
    expect(field({ kind: 5 })).toBe("kind");
    expect(field({ modelClass: "Model" })).toBe("modelClass");
    expect(field({ modelClass: null })).toBe("modelClass");
    expect(field({ config: { n: 1n } })).toBe("config");
    expect(field({ kind: "K", modelClass: class {}, config: null })).toBeUndefined();
  });
});

describe("kindKeyMemo", () => {
  it("answers what modelKindKey answers, with or without a config, class or kind", () => {
    const memo = kindKeyMemo();
    class A {}
    class B {}
    const config = { b: 1, a: [true] };
    const cases = [
      {},
      { kind: "K" },
      { kind: "" },
      { modelClass: A },
      { modelClass: B },
      { modelClass: A, kind: "K" },
      { config },
      { config, modelClass: A },
      { config, modelClass: B, kind: "K" },
      { config: { a: [true], b: 1 }, modelClass: A },
    ];
    for (let round = 0; round < 2; round++) {
      for (const options of cases) expect(memo(options)).toBe(modelKindKey(options));
    }
    expect(memo({ kind: "" })).not.toBe(memo({}));
    expect(memo({ modelClass: A })).not.toBe(memo({ modelClass: B }));
  });

  it("refuses what modelKindKey refuses, every time (nothing remembered for it)", () => {
    const memo = kindKeyMemo();
    for (const bad of [{ kind: 5 }, { modelClass: "M" }, { config: { n: Number.NaN } }]) {
      for (let round = 0; round < 2; round++) {
        expect(() => memo(bad)).toThrow(ValidationError);
      }
    }
    expect(memo({ config: null })).toBe(modelKindKey({ config: null }));
  });
});
