import { describe, expect, it } from "vitest";
import { withSignalFrom } from "./signal-from.js";

describe("withSignalFrom", () => {
  it("reads the source's signal only when read, as an own enumerable getter a spread copies", () => {
    let made = 0;
    const controller = new AbortController();
    const source = {
      get signal() {
        made++;
        return controller.signal;
      },
    };
    const context = withSignalFrom({ handle: "h" }, source);
    expect(made).toBe(0);
    expect(Object.keys(context)).toEqual(["handle", "signal"]);
    expect(context.signal).toBe(controller.signal);
    const { signal } = context;
    expect(signal).toBe(controller.signal);
    const copy = { ...context };
    expect(copy.signal).toBe(controller.signal);
    expect(made).toBe(3);
    expect(JSON.stringify(withSignalFrom({ a: 1 }, {}))).toBe('{"a":1}');
  });

  it("keeps every object on one hidden class: no per-object getter", () => {
    const descriptors = [1, 2].map((n) =>
      Object.getOwnPropertyDescriptor(withSignalFrom({ n }, {}), "signal"),
    );
    expect(descriptors[0]?.get).toBeTypeOf("function");
    expect(descriptors[0]?.get).toBe(descriptors[1]?.get);
  });
});
