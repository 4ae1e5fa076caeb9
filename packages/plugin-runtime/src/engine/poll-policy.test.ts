import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLL_POLICY, nextPollDelay, resolvePollPolicy } from "./poll-policy.js";

describe("nextPollDelay", () => {
  const policy = resolvePollPolicy({ initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000 });

  it("backs off exponentially up to maxDelayMs without retryAfterMs", () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => nextPollDelay(policy, n))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("honours retryAfterMs, bounded by minDelayMs and maxRetryAfterMs", () => {
    expect(nextPollDelay(policy, 7, 250)).toBe(250);
    expect(nextPollDelay(policy, 0, 0)).toBe(DEFAULT_POLL_POLICY.minDelayMs);
    expect(nextPollDelay(policy, 0, 86_400_000)).toBe(DEFAULT_POLL_POLICY.maxRetryAfterMs);
  });

  it("rejects nonsense policies with a ValidationError naming the field", () => {
    expect(() => resolvePollPolicy({ initialDelayMs: -1 })).toThrow(/pollPolicy\.initialDelayMs/);
    expect(() => resolvePollPolicy({ multiplier: 0.5 })).toThrow(ValidationError);
  });
});
