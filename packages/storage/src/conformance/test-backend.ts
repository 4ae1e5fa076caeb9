import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RemoteBackend } from "../backends/types.js";
import { cancellationTests, keyTests } from "./cancellation-tests.js";
import { compareAndSwapTests, createOnlyTests } from "./conditional-tests.js";
import { MIB } from "./conformance-helpers.js";
import { listTests, readTests, roundTripTests, writeTests } from "./object-tests.js";
import { prefixTests } from "./prefix-tests.js";
import type { SuiteContext } from "./suite-context.js";

export interface BackendTestOptions {
  /** Shown in the describe block. */
  name: string;
  /** Builds the backend under test (once per suite). Keys the suite writes are under `conformance-*`. */
  create: () => RemoteBackend | Promise<RemoteBackend>;
  /** Keys (and folders) written for the many-keys listing tests (default 50; S3 pages hold 1000). */
  manyKeys?: number;
  /** Size of the big streamed body (default 20 MiB: three 8 MiB parts on S3). */
  bigBytes?: number;
}

/**
 * The conformance suite every `RemoteBackend` must pass (after unstorage's `testBackend`):
 * round trips of every body kind and size, head/get/range/list/listPrefixes/delete semantics, create-only
 * and compare-and-swap under concurrency (when declared), cancellation and key validation.
 * Call it at the top level of a vitest test file; see docs/writing-a-backend.md.
 */
export function testBackend(options: BackendTestOptions): void {
  describe(`${options.name} backend (conformance)`, () => {
    let backend: RemoteBackend | undefined;
    let counter = 0;
    const run = `conformance-${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
    const s: SuiteContext = {
      backend: () => {
        if (!backend) throw new Error("the backend under test was not created");
        return backend;
      },
      ns: () => `${run}/t${counter++}/`,
      run,
      manyKeys: options.manyKeys ?? 50,
      bigBytes: options.bigBytes ?? 20 * MIB,
    };

    beforeAll(async () => {
      backend = await options.create();
    });

    afterAll(async () => {
      await backend?.close?.();
    });

    it("declares its name, capabilities and a description", () => {
      const { name, description, capabilities } = s.backend();
      expect(typeof name).toBe("string");
      expect(name.length).toBeGreaterThan(0);
      expect(typeof description).toBe("string");
      expect(typeof capabilities.createOnly).toBe("boolean");
      expect(typeof capabilities.compareAndSwap).toBe("boolean");
      expect(typeof capabilities.rangeReads).toBe("boolean");
    });

    roundTripTests(s);
    readTests(s);
    listTests(s);
    prefixTests(s);
    writeTests(s);
    createOnlyTests(s);
    compareAndSwapTests(s);
    cancellationTests(s);
    keyTests(s);
  });
}
