import { describe, expect, it } from "vitest";
import { RunContext } from "./run-context.js";

describe("RunContext", () => {
  it("reads the run's signal only when read (also destructured); a spread copy must copy it explicitly", () => {
    let made = 0;
    const controller = new AbortController();
    const options = {
      get signal() {
        made++;
        return controller.signal;
      },
    };
    const instance = { id: "i", config: { a: 1 } };
    const context = new RunContext(undefined, false, instance, "h", options);
    expect(made).toBe(0);
    expect(context).toMatchObject({ cache: false, instance, handle: "h" });
    expect(made).toBe(0);
    const { signal } = context;
    expect(signal).toBe(controller.signal);
    expect(context.signal).toBe(controller.signal);
    expect(made).toBe(2);
    expect({ ...context }).not.toHaveProperty("signal");
    expect({ ...context, signal: context.signal }.signal).toBe(controller.signal);
    expect(new RunContext(undefined, undefined, undefined, undefined, {}).signal).toBeUndefined();
  });
});
