import { createHash } from "node:crypto";
import { IntegrityError, type ManifestEntry, manifestDigest, manifestLine } from "@trainable/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { manifestBytes, streamOfChunks } from "./__fixtures__/packed.js";
import { ManifestWriter, parseManifestLine, readManifestEntries } from "./manifest.js";

const hex = (c: string) => c.repeat(64);

async function readAll(
  bytes: Buffer,
  options: { digest?: string; size?: number; chunk?: number; limits?: object } = {},
) {
  const out: ManifestEntry[] = [];
  for await (const entry of readManifestEntries(streamOfChunks(bytes, options.chunk ?? 7), {
    digest: options.digest ?? `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    size: options.size ?? bytes.length,
    what: "manifest M",
    limits: options.limits,
  })) {
    out.push(entry);
  }
  return out;
}

/** Valid manifests: a tree of unique safe names, listed with their parents, sorted. */
const arbManifest = fc
  .uniqueArray(
    fc
      .array(fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9_.é漢 -]{0,9}$/), {
        minLength: 1,
        maxLength: 3,
      })
      .map((p) => p.join("/")),
    { maxLength: 12 },
  )
  .chain((paths) =>
    fc.tuple(
      fc.constant(paths),
      fc.array(fc.tuple(fc.nat({ max: 1e9 }), fc.stringMatching(/^[0-9a-f]{64}$/)), {
        minLength: paths.length,
        maxLength: paths.length,
      }),
    ),
  )
  .map(([paths, facts]) => {
    // Leaves are files; every proper prefix is a directory.
    const dirs = new Set<string>();
    for (const p of paths) {
      const parts = p.split("/");
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    const entries: ManifestEntry[] = [...dirs].map((path) => ({ type: "directory", path }));
    paths.forEach((path, i) => {
      if (!dirs.has(path))
        entries.push({ type: "file", path, size: facts[i]![0], sha256: facts[i]![1] });
    });
    return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  });

describe("manifest", () => {
  it("round-trips any valid manifest through its canonical bytes, in any chunking (property)", async () => {
    await fc.assert(
      fc.asyncProperty(arbManifest, fc.integer({ min: 1, max: 50 }), async (entries, chunk) => {
        const bytes = manifestBytes(entries);
        expect(await readAll(bytes, { chunk })).toEqual(entries);
        expect(manifestDigest(entries)).toBe(
          `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
        );
        const writer = new ManifestWriter();
        let written = "";
        for (const e of entries) written += writer.add(e);
        expect(written).toBe(bytes.toString());
        expect(writer.digest()).toBe(manifestDigest(entries));
      }),
      { numRuns: 200 },
    );
  });

  it("accepts only the canonical spelling of a line", () => {
    const file = { type: "file", path: "a/b", size: 12, sha256: hex("a") } as const;
    expect(parseManifestLine(manifestLine(file).slice(0, -1))).toEqual(file);
    for (const variant of [
      `{"path":"a/b","size":12,"sha256":"${hex("a")}","x":1}`,
      `{"size":12,"path":"a/b","sha256":"${hex("a")}"}`,
      `{"path":"a/b", "size":12,"sha256":"${hex("a")}"}`,
      `{"path":"a\\/b","size":12,"sha256":"${hex("a")}"}`,
      `{"path":"\\u0061/b","size":12,"sha256":"${hex("a")}"}`,
      `{"path":"a/b","size":12.0,"sha256":"${hex("a")}"}`,
      `{"path":"a/b","size":1.2e1,"sha256":"${hex("a")}"}`,
      `{"dir":"a","x":null}`,
      "[]",
      "null",
    ]) {
      expect(parseManifestLine(variant), variant).toBeUndefined();
    }
  });

  const cases: Array<[string, string, RegExp]> = [
    ["out of order", `{"dir":"b"}\n{"dir":"a"}\n`, /line 2: entry "a": out of order or duplicated/],
    ["duplicated", `{"dir":"a"}\n{"dir":"a"}\n`, /out of order or duplicated/],
    [
      "a parent that is not listed",
      `{"path":"a/b","size":1,"sha256":"${hex("a")}"}\n`,
      /its parent "a" is not a directory listed before it/,
    ],
    [
      "a file under a file",
      `{"path":"a","size":1,"sha256":"${hex("a")}"}\n{"path":"a/b","size":1,"sha256":"${hex("a")}"}\n`,
      /its parent "a" is not a directory/,
    ],
    ["a .. segment", `{"dir":".."}\n`, /path contains a "\.\." segment/],
    ["an absolute path", `{"dir":"/etc"}\n`, /path is absolute/],
    ["a backslash", `{"dir":"a\\\\b"}\n`, /backslash/],
    ["a NUL", `{"dir":"a\\u0000b"}\n`, /NUL/],
    [
      "uppercase hex",
      `{"path":"a","size":1,"sha256":"${hex("A")}"}\n`,
      /sha256 must be 64 lowercase hex/,
    ],
    [
      "a negative size",
      `{"path":"a","size":-1,"sha256":"${hex("a")}"}\n`,
      /size must be a non-negative integer/,
    ],
    ["garbage", "not json\n", /line 1 is not a canonical manifest entry/],
    ["no final newline", `{"dir":"a"}`, /does not end with a newline/],
    ["invalid UTF-8", "\u00ff", /not valid UTF-8|not a canonical/],
  ];
  it.each(cases)(
    "refuses %s with an IntegrityError naming the line",
    async (_label, text, message) => {
      const bytes = Buffer.from(text, "utf8");
      const raw = _label === "invalid UTF-8" ? Buffer.from([0x7b, 0xff, 0x7d, 0x0a]) : bytes;
      const error = await readAll(raw).catch((e) => e);
      expect(IntegrityError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(/^\[storage\] manifest M is damaged: /);
      expect(error.message).toMatch(message);
    },
  );

  it("checks size and digest at the end, and limits as it goes", async () => {
    const bytes = manifestBytes([
      { type: "directory", path: "a" },
      { type: "file", path: "a/b", size: 600, sha256: hex("b") },
      { type: "file", path: "c", size: 600, sha256: hex("c") },
    ]);
    await expect(readAll(bytes, { digest: `sha256:${hex("0")}` })).rejects.toThrow(
      /its digest is sha256:[0-9a-f]{64}, the ref says sha256:0{64}/,
    );
    await expect(readAll(bytes, { size: bytes.length + 1 })).rejects.toThrow(/truncated/);
    await expect(readAll(bytes, { size: bytes.length - 1 })).rejects.toThrow(
      /larger than its ref says/,
    );
    await expect(readAll(bytes, { limits: { maxEntries: 2 } })).rejects.toThrow(
      /more than 2 entries \(maxEntries limit\)/,
    );
    await expect(readAll(bytes, { limits: { maxTotalBytes: 1000 } })).rejects.toThrow(
      /more than 1000 bytes of file data/,
    );
    await expect(readAll(bytes, { limits: { maxPathLength: 2 } })).rejects.toThrow(
      /"a\/b": path is 3 bytes, longer than the limit of 2/,
    );
  });
});
