import { CancelledError, ValidationError } from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { expect, it } from "vitest";
import type { RemoteBackend } from "../backends/types.js";
import { caught } from "./conformance-helpers.js";
import { describeBackend, type SuiteContext } from "./suite-context.js";

async function names(
  backend: RemoteBackend,
  prefix: string,
  options?: { limit?: number; signal?: AbortSignal },
): Promise<string[]> {
  const listPrefixes = backend.listPrefixes;
  if (!listPrefixes)
    throw new Error(`${backend.name}: no listPrefixes (make backends with defineBackend)`);
  const out: string[] = [];
  for await (const name of listPrefixes.call(backend, prefix, options)) out.push(name);
  return out;
}

/** Listing the folders directly under a prefix (`listPrefixes`). */
export function prefixTests(s: SuiteContext): void {
  describeBackend(s, "folder listing (listPrefixes)", (backend) => {
    it("lists each folder directly under a prefix once, in the order its keys list", async () => {
      const p = s.ns();
      const keys = ["a/b/c", "a/b/d", "a/e", "a-b/x", "ab", "a.b/y/z", "a0/1", "b/c/d/e", "c"];
      await Promise.all(keys.map((k) => backend().put(`${p}${k}`, Buffer.from(k))));
      // Names that are prefixes of others each come once; files ("ab", "c") are not folders;
      // the order is that of "name/" ("a-b/" < "a.b/" < "a/" < "a0/"), as the keys list.
      expect(await names(backend(), p)).toEqual(["a-b", "a.b", "a", "a0", "b"]);
      expect(await names(backend(), `${p}a/`)).toEqual(["b"]);
      expect(await names(backend(), `${p}a/b/`)).toEqual([]);
      expect(await names(backend(), `${p}b/c/`)).toEqual(["d"]);
      expect(await names(backend(), `${p}zzz/`)).toEqual([]);
      expect(await names(backend(), `${s.run}/no-such-folder/`)).toEqual([]);
      expect(await names(backend(), p, { limit: 2 })).toEqual(["a-b", "a.b"]);
      expect(await names(backend(), p, { limit: 0 })).toEqual([]);
    });

    it("lists from the root (empty prefix)", async () => {
      await backend().put(`${s.ns()}root-check`, Buffer.from("x"));
      const root = await names(backend(), "");
      expect(root).toContain(s.run);
      expect(new Set(root).size).toBe(root.length);
      const ordered = [...root].sort((a, b) => (`${a}/` < `${b}/` ? -1 : 1));
      expect(root).toEqual(ordered);
    });

    it("forgets a folder once its last key is deleted", async () => {
      const p = s.ns();
      await backend().put(`${p}gone/deep/x`, Buffer.from("x"));
      await backend().put(`${p}kept/y`, Buffer.from("y"));
      expect(await names(backend(), p)).toEqual(["gone", "kept"]);
      await backend().delete(`${p}gone/deep/x`);
      expect(await names(backend(), p)).toEqual(["kept"]);
    });

    it(`lists ${s.manyKeys} folders (pagination), each once however many keys it holds`, async () => {
      const p = s.ns();
      const folders = Array.from(
        { length: s.manyKeys },
        (_, i) => `f${String(i).padStart(5, "0")}`,
      );
      // Every seventh folder holds three keys, one of them nested.
      const keys = folders.flatMap((f, i) =>
        i % 7 === 0 ? [`${p}${f}/a`, `${p}${f}/b`, `${p}${f}/c/d`] : [`${p}${f}/a`],
      );
      await mapLimit(keys, 32, (key) => backend().put(key, Buffer.from("x")));
      expect(await names(backend(), p)).toEqual(folders);
    });

    it("rejects a prefix that is not a folder, and honours an aborted signal", async () => {
      const p = s.ns();
      await backend().put(`${p}f/x`, Buffer.from("x"));
      for (const bad of [`${p}f`, "../x/", "a//", "/abs/"]) {
        const error = await caught(names(backend(), bad));
        expect(ValidationError.isInstance(error), `prefix ${JSON.stringify(bad)}`).toBe(true);
      }
      const error = await caught(names(backend(), p, { signal: AbortSignal.abort() }));
      expect(CancelledError.isInstance(error)).toBe(true);
    });
  });
}
