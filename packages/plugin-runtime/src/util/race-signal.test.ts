import { CancelledError, TimeoutError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { abortError, raceSignal } from "./race-signal.js";

describe("abortError", () => {
  it("is the signal's reason when that is an Error (not a plain AbortError)", () => {
    const reason = new TimeoutError("[runtime] late");
    expect(abortError(AbortSignal.abort(reason))).toBe(reason);
  });

  it("else a CancelledError naming what was cancelled, keeping the reason as cause", () => {
    const error = abortError(AbortSignal.abort("why"), "Training");
    expect(CancelledError.isInstance(error)).toBe(true);
    expect(error.message).toBe("[runtime] Training cancelled");
    expect(error.cause).toBe("why");
    expect(abortError(AbortSignal.abort()).message).toBe("[runtime] Operation cancelled");
  });
});

describe("raceSignal", () => {
  it("settles with the promise when the signal does not abort", async () => {
    await expect(raceSignal(Promise.resolve(1), new AbortController().signal)).resolves.toBe(1);
    await expect(raceSignal(Promise.reject(new Error("no")), undefined)).rejects.toThrow("no");
  });

  it("rejects as soon as the signal aborts, even if the work never settles", async () => {
    const controller = new AbortController();
    const pending = raceSignal(new Promise<never>(() => {}), controller.signal, "Training");
    controller.abort();
    await expect(pending).rejects.toThrow("[runtime] Training cancelled");
  });

  it("rejects at once for a signal already aborted", async () => {
    const reason = new TimeoutError("[runtime] late");
    await expect(raceSignal(Promise.resolve(1), AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
