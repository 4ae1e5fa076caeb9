import { CancelledError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { SingleFlight } from "./single-flight.js";

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe("SingleFlight", () => {
  it("shares one run between concurrent callers and forgets it once settled", async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const work = async () => {
      runs++;
      await tick();
      return runs;
    };
    const results = await Promise.all([
      flight.run("k", work),
      flight.run("k", work),
      flight.run("k", work),
    ]);
    expect(results).toEqual([1, 1, 1]);
    expect(flight.size).toBe(0);
    expect(await flight.run("k", work)).toBe(2);
  });

  it("does not cache a failure", async () => {
    const flight = new SingleFlight<string>();
    let fail = true;
    const work = async () => {
      await tick();
      if (fail) throw new Error("boom");
      return "ok";
    };
    const both = await Promise.allSettled([flight.run("k", work), flight.run("k", work)]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(await flight.run("k", work)).toBe("ok");
  });

  it("aborts the shared work only when every waiter has gone", async () => {
    const flight = new SingleFlight<string>();
    let aborted = false;
    const work = (signal: AbortSignal) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => resolve("done"), 100);
        signal.addEventListener("abort", () => {
          aborted = true;
          clearTimeout(timer);
          reject(new Error("aborted"));
        });
      });
    const a = new AbortController();
    const b = new AbortController();
    const pa = flight.run("k", work, { signal: a.signal });
    const pb = flight.run("k", work, { signal: b.signal });
    a.abort();
    await expect(pa).rejects.toSatisfy((e) => CancelledError.isInstance(e));
    expect(aborted).toBe(false);
    b.abort();
    await expect(pb).rejects.toSatisfy((e) => CancelledError.isInstance(e));
    await tick();
    expect(aborted).toBe(true);
    // A new caller starts afresh instead of joining the aborted run.
    expect(flight.has("k")).toBe(false);
    expect(await flight.run("k", work)).toBe("done");
  });

  it("claims the value for every waiter before onForgotten, and before any waiter's code resumes", async () => {
    const flight = new SingleFlight<{ holds: number }>();
    const log: string[] = [];
    const value = { holds: 1 }; // the starter's hold, dropped by onForgotten
    const work = async () => {
      await tick();
      return value;
    };
    const claim = (name: string) => (v: { holds: number }) => {
      v.holds++;
      log.push(`claim ${name}`);
    };
    const a = flight.run("k", work, {
      claim: claim("a"),
      onForgotten: (v) => {
        v.holds--;
        log.push(`forgotten (${v.holds} holds)`);
      },
    });
    const controller = new AbortController();
    const b = flight.run("k", work, { signal: controller.signal, claim: claim("b") });
    const gone = flight.run("k", work, { signal: AbortSignal.timeout(1), claim: claim("gone") });
    await expect(gone).rejects.toSatisfy((e) => CancelledError.isInstance(e));
    const resumed = Promise.all([a, b]).then(() => log.push("resumed"));
    await resumed;
    expect(log).toEqual(["claim a", "claim b", "forgotten (2 holds)", "resumed"]);
    expect(flight.has("k")).toBe(false);
  });

  it("rejects at once when the signal is already aborted", () => {
    const flight = new SingleFlight<number>();
    expect(() => flight.run("k", async () => 1, { signal: AbortSignal.abort() })).toThrow(
      /cancelled/,
    );
  });
});
