import { ValidationError } from "@trainable/core";

/**
 * A process-wide id per model class (or any object standing for a kind of model), so two
 * classes that share a name never share a cache entry. Weak: a class that is garbage
 * collected takes its id with it (its entries can no longer be asked for anyway).
 */
const classIds = new WeakMap<object, number>();
let nextClassId = 1;

function classId(modelClass: object): number {
  let id = classIds.get(modelClass);
  if (id === undefined) {
    id = nextClassId++;
    classIds.set(modelClass, id);
  }
  return id;
}

const NON_JSON: Record<string, string> = {
  bigint: "a BigInt",
  function: "a function",
  symbol: "a symbol",
  undefined: "undefined",
};

function bad(field: string, path: string, problem: string): ValidationError {
  return ValidationError.forField("cache", field, `${path === "" ? "" : `${path}: `}${problem}`);
}

/**
 * The canonical JSON of `value`: object keys sorted (recursively), no whitespace, so two
 * configs that differ only in key order give the same string. Properties whose value is
 * `undefined` are left out, as `JSON.stringify` does. Anything JSON cannot carry exactly — a
 * BigInt, a function, a symbol, `undefined` in an array, NaN or ±Infinity, a class instance
 * (Date, Map…), a cycle — is a `ValidationError` naming `field` and the path inside it.
 */
export function canonicalJson(value: unknown, field = "config"): string {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): string => {
    switch (typeof v) {
      case "string":
        return JSON.stringify(v);
      case "boolean":
        return v ? "true" : "false";
      case "number":
        if (!Number.isFinite(v)) {
          throw bad(field, path, `${v} is not JSON (JSON has no NaN or Infinity)`);
        }
        return JSON.stringify(v);
      case "object": {
        if (v === null) return "null";
        if (seen.has(v)) throw bad(field, path, "is a circular reference");
        if (Array.isArray(v)) {
          seen.add(v);
          const items: string[] = [];
          for (let i = 0; i < v.length; i++) {
            const item = v[i] as unknown;
            if (item === undefined) throw bad(field, `${path}[${i}]`, "undefined is not JSON");
            items.push(walk(item, `${path}[${i}]`));
          }
          seen.delete(v);
          return `[${items.join(",")}]`;
        }
        const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
        if (proto !== Object.prototype && proto !== null) {
          const name = proto?.constructor?.name || "class instance";
          throw bad(field, path, `must be plain JSON, not a ${name}`);
        }
        seen.add(v);
        const record = v as Record<string, unknown>;
        const parts: string[] = [];
        for (const key of Object.keys(record).sort()) {
          const item = record[key];
          if (item === undefined) continue;
          parts.push(`${JSON.stringify(key)}:${walk(item, path === "" ? key : `${path}.${key}`)}`);
        }
        seen.delete(v);
        return `{${parts.join(",")}}`;
      }
      default:
        throw bad(field, path, `${NON_JSON[typeof v] ?? typeof v} is not JSON`);
    }
  };
  return walk(value, "");
}

/** What, besides the checkpoint version, tells cached models apart. */
export interface ModelKindOptions {
  kind?: unknown;
  modelClass?: unknown;
  config?: unknown;
}

/**
 * The part of a memory key after the version: the string `kind` (as given), the model
 * class by identity, and the config as canonical JSON — each present only when passed, each
 * self-delimiting (JSON), in a fixed order, so no two different inputs give the same string.
 * Throws a `ValidationError` naming `kind`, `modelClass` or `config` (before any I/O).
 */
export function modelKindKey(options: ModelKindOptions): string {
  const parts: string[] = [];
  if (options.kind !== undefined) {
    if (typeof options.kind !== "string") {
      throw ValidationError.forField("cache", "kind", "must be a string");
    }
    parts.push(`kind=${JSON.stringify(options.kind)}`);
  }
  if (options.modelClass !== undefined) {
    const c = options.modelClass;
    if (c === null || (typeof c !== "object" && typeof c !== "function")) {
      throw ValidationError.forField(
        "cache",
        "modelClass",
        "must be the model class (or another object standing for the kind of model)",
      );
    }
    const name = typeof c === "function" ? (c as { name?: unknown }).name : undefined;
    parts.push(`class=${JSON.stringify(typeof name === "string" ? name : "")}/${classId(c)}`);
  }
  if (options.config !== undefined) parts.push(`config=${canonicalConfig(options.config)}`);
  return parts.join(" ");
}

/**
 * Canonical JSON of configs, by object: a served instance passes the same parsed config
 * object on every request, and walking it each time would be per-request work for nothing.
 * (A config object is taken as it was when first seen: configs are not to be mutated.)
 */
const canonicalByObject = new WeakMap<object, string>();

function canonicalConfig(config: unknown): string {
  if (config === null || typeof config !== "object") return canonicalJson(config);
  let text = canonicalByObject.get(config);
  if (text === undefined) {
    text = canonicalJson(config);
    canonicalByObject.set(config, text);
  }
  return text;
}

/** Stands for "no config" in {@link kindKeyMemo}. */
const NO_CONFIG = {};

/**
 * `modelKindKey`, remembered per config object, model class and kind (a served instance asks
 * with the same objects on every request): lookups only, no string built. Options it cannot
 * remember (a config that is not an object, a kind that is not a string…) are computed, and
 * refused, by `modelKindKey` every time.
 */
export function kindKeyMemo(): (options: ModelKindOptions) => string {
  const keys = new WeakMap<object, Map<unknown, Map<string | undefined, string>>>();
  return (options) => {
    const { config, modelClass, kind } = options;
    if (
      (config !== undefined && (config === null || typeof config !== "object")) ||
      (kind !== undefined && typeof kind !== "string") ||
      (modelClass !== undefined && (modelClass === null || typeof modelClass !== "function"))
    ) {
      return modelKindKey(options);
    }
    const configKey = config ?? NO_CONFIG;
    let byClass = keys.get(configKey);
    if (!byClass) {
      byClass = new Map();
      keys.set(configKey, byClass);
    }
    let byKind = byClass.get(modelClass);
    if (!byKind) {
      byKind = new Map();
      byClass.set(modelClass, byKind);
    }
    let key = byKind.get(kind);
    if (key === undefined) {
      key = modelKindKey(options);
      byKind.set(kind, key);
    }
    return key;
  };
}
