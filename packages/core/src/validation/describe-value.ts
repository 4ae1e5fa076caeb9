/** What a value is, for error messages: `a Promise`, `undefined`, `a string`, `a class (Foo)`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (isPromiseLike(value)) return "a Promise";
  if (typeof value === "function") {
    const name = (value as { name?: string }).name;
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(value));
    return `${isClass ? "a class" : "a function"}${name ? ` (${name})` : ""}`;
  }
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const ctor = Object.getPrototypeOf(value)?.constructor?.name;
    return ctor && ctor !== "Object" ? `an object (${ctor})` : "an object";
  }
  return `a ${typeof value}`;
}

/** True for anything with a `then` method (a Promise, or another thenable). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
