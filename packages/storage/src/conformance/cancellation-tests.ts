import { Readable } from "node:stream";
import { CancelledError, RemoteError, ValidationError } from "@trainable/core";
import { expect, it } from "vitest";
import { caught, collect, getText, MIB, patternChunks } from "./conformance-helpers.js";
import { describeBackend, type SuiteContext } from "./suite-context.js";

/** Cancellation. */
export function cancellationTests(s: SuiteContext): void {
  describeBackend(s, "cancellation", (backend) => {
    /** 12 MiB, then the signal is aborted while the stream waits for more. */
    function stallingBody(controller: AbortController): Readable {
      return Readable.from(
        (async function* () {
          yield* patternChunks(12 * MIB, "stall");
          setTimeout(() => controller.abort(), 100);
          await new Promise((resolve) => controller.signal.addEventListener("abort", resolve));
          yield Buffer.from("never stored");
        })(),
      );
    }

    for (const mode of ["plain", "create-only"] as const) {
      it(`aborting a big ${mode} put rejects and leaves nothing at the key`, async () => {
        if (mode === "create-only" && !backend().capabilities.createOnly) return;
        if (mode === "create-only" && backend().capabilities.conditionalMaxBytes !== undefined) {
          return; // such a put is refused up front (see above)
        }
        const p = s.ns();
        const key = `${p}aborted.bin`;
        const controller = new AbortController();
        const error = await caught(
          backend().put(key, stallingBody(controller), {
            signal: controller.signal,
            ...(mode === "create-only" ? { ifNoneMatch: "*" as const } : {}),
          }),
        );
        expect(CancelledError.isInstance(error) || RemoteError.isInstance(error)).toBe(true);
        expect(await backend().head(key)).toBeUndefined();
        expect(await collect(backend().list(p))).toEqual([]);
        // The key is still free for a later writer.
        await backend().put(key, Buffer.from("after"), { ifNoneMatch: "*" });
        expect(await getText(backend(), key)).toBe("after");
      });
    }

    it("rejects every operation with CancelledError when the signal is already aborted", async () => {
      const key = `${s.ns()}pre-aborted`;
      await backend().put(key, Buffer.from("x"));
      const signal = AbortSignal.abort();
      const errors = [
        await caught(backend().put(`${key}-2`, Buffer.from("y"), { signal })),
        await caught(backend().get(key, { signal })),
        await caught(backend().head(key, { signal })),
        await caught(collect(backend().list(key, { signal }))),
        await caught(backend().delete(key, { signal })),
      ];
      for (const error of errors) expect(CancelledError.isInstance(error)).toBe(true);
      expect(await backend().head(`${key}-2`)).toBeUndefined();
      expect(await getText(backend(), key)).toBe("x");
    });
  });
}

/** Key validation. */
export function keyTests(s: SuiteContext): void {
  describeBackend(s, "keys", (backend) => {
    it("rejects malformed keys with a ValidationError before any I/O", async () => {
      const bad = ["", "/abs", "a//b", "a/../b", "..", "./a", "a\\b", "a/", "x/\u0000", ".~tmp.x"];
      for (const key of bad) {
        for (const op of [
          () => backend().put(key, Buffer.from("x")),
          () => backend().get(key),
          () => backend().head(key),
          () => backend().delete(key),
        ]) {
          const error = await caught(op());
          expect(ValidationError.isInstance(error), `key ${JSON.stringify(key)}`).toBe(true);
        }
      }
      expect(ValidationError.isInstance(await caught(collect(backend().list("../x"))))).toBe(true);
    });
  });
}
