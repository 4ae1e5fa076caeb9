import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { checkTimeout, DEFAULT_TIMEOUT_MS } from "./check-timeout.js";

describe("checkTimeout", () => {
  const where = { field: "timeoutMs", component: "runtime" };

  it("accepts a positive number of milliseconds a timer can wait", () => {
    expect(() => checkTimeout(1, where)).not.toThrow();
    expect(() => checkTimeout(DEFAULT_TIMEOUT_MS, where)).not.toThrow();
    expect(() => checkTimeout(2 ** 31 - 1, where)).not.toThrow();
  });

  it.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])("refuses %s", (value) => {
    expect(() => checkTimeout(value, where)).toThrow(ValidationError);
  });

  it("names the component and the field", () => {
    expect(() =>
      checkTimeout(0, { field: "defaultTimeoutMs", component: "engine-bullmq" }),
    ).toThrow(
      "[engine-bullmq] Invalid defaultTimeoutMs: must be a positive number of milliseconds, at most 2147483647 (about 24.8 days)",
    );
  });
});
