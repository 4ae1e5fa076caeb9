import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CheckpointManifest, type CheckpointRef, manifestDigest } from "@trainable/core";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EntryMarker, markerChecksum, readMarker, writeMarker } from "./entry-marker.js";

/** Names whose order and escaping differ between UTF-16, UTF-8 bytes and JSON. */
const NAMES = ["z.bin", "A.txt", 'we"ird é ✓.txt', "é.txt", "f.txt", "a/b.json", "a/c/d.txt"];

describe("completion markers (against a real store's refs and manifests)", () => {
  let store: CheckpointStoreImpl;
  let ref: CheckpointRef;
  let manifest: CheckpointManifest;
  let dir: string;
  let path: string;

  beforeAll(async () => {
    store = await createCheckpointStore({
      url: "memory://",
      workspace: "ws",
      fingerprintCache: false,
    });
    ({ ref } = await store.save({
      pluginInstanceId: "markers",
      handle: "default",
      write: async (folder) => {
        for (const name of NAMES) {
          const parts = name.split("/");
          if (parts.length > 1)
            await mkdir(join(folder, ...parts.slice(0, -1)), { recursive: true });
          await writeFile(join(folder, ...parts), `content of ${name}`);
        }
        await mkdir(join(folder, "empty", "nested"), { recursive: true });
      },
    }));
    manifest = await store.readManifest({ pluginInstanceId: "markers", ref });
  });
  afterAll(async () => {
    await store?.close();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trainable-marker-"));
    path = join(dir, "entry.complete.json");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = (fields: { ref?: CheckpointRef; manifest?: CheckpointManifest } = {}) =>
    writeMarker({
      path,
      tmpDir: dir,
      ref: fields.ref ?? ref,
      manifest: fields.manifest ?? manifest,
      now: new Date(),
      fingerprints: [],
    });

  it("core's manifestDigest (the v2 digest) is the store's digest, whatever the entry order", () => {
    expect(manifest.files.map((f) => f.path).sort()).toEqual([...NAMES].sort());
    expect(manifest.directories).toEqual(["a", "a/c", "empty", "empty/nested"]);
    expect(manifestDigest(manifest)).toBe(ref.digest);
    const shuffled = {
      files: [...manifest.files].reverse(),
      directories: [...manifest.directories].reverse(),
    };
    expect(manifestDigest(shuffled)).toBe(ref.digest);
    // Every field counts: a path, a size, a sha256 or a directory changed is another digest.
    const [first, ...rest] = manifest.files as [CheckpointManifest["files"][number]];
    for (const changed of [
      { ...manifest, files: [{ ...first, path: `${first.path}x` }, ...rest] },
      { ...manifest, files: [{ ...first, size: first.size + 1 }, ...rest] },
      { ...manifest, files: [{ ...first, sha256: "0".repeat(64) }, ...rest] },
      { ...manifest, directories: manifest.directories.slice(1) },
      { ...manifest, files: rest },
    ]) {
      expect(manifestDigest(changed)).not.toBe(ref.digest);
    }
  });

  it("a marker written with the store's ref and manifest reads back whole", async () => {
    const written = await write();
    expect(written).toMatchObject({
      schemaVersion: 2,
      digest: ref.digest,
      bytes: ref.totalBytes,
      manifest,
    });
    const read = await readMarker(path, ref.digest);
    expect(read).toEqual({ state: "ok", marker: written });
    expect((read as { marker: EntryMarker }).marker.manifest).toEqual(manifest);
  });

  it("refuses a marker for another digest, of layout v1's schema, or missing its manifest", async () => {
    await write();
    const other = `sha256:${"1".repeat(64)}`;
    expect(await readMarker(path, other)).toMatchObject({ state: "bad", reason: /is for/ });
    const raw = JSON.parse(await readFile(path, "utf8"));
    await writeFile(path, JSON.stringify({ ...raw, schemaVersion: 1 }));
    expect(await readMarker(path, ref.digest)).toMatchObject({
      state: "bad",
      reason: /unknown format/,
    });
    const { manifest: _dropped, ...withoutManifest } = raw;
    await writeFile(path, JSON.stringify(withoutManifest));
    expect(await readMarker(path, ref.digest)).toMatchObject({
      state: "bad",
      reason: /missing fields/,
    });
    expect(await readMarker(join(dir, "none.json"), ref.digest)).toEqual({ state: "missing" });
  });

  it("a manifest edited in place fails the checksum", async () => {
    await write();
    const raw = JSON.parse(await readFile(path, "utf8"));
    for (const edit of [
      (m: CheckpointManifest) => {
        (m.files[0] as { sha256: string }).sha256 = "0".repeat(64);
      },
      (m: CheckpointManifest) => {
        m.directories.pop();
      },
      (m: CheckpointManifest) => {
        m.files.pop();
      },
    ]) {
      const copy = structuredClone(raw);
      edit(copy.manifest);
      await writeFile(path, JSON.stringify(copy));
      expect(await readMarker(path, ref.digest)).toMatchObject({
        state: "bad",
        reason: /checksum/,
      });
    }
  });

  it("a manifest replaced with a valid checksum is refused unless it is exactly the digest's", async () => {
    const [first, ...rest] = manifest.files as [CheckpointManifest["files"][number]];
    const forgeries: CheckpointManifest[] = [
      { ...manifest, files: [{ ...first, sha256: "0".repeat(64) }, ...rest] },
      { ...manifest, files: [{ ...first, size: first.size + 1 }, ...rest] },
      { ...manifest, files: rest },
      {
        ...manifest,
        files: [...manifest.files, { path: "extra", size: 0, sha256: "e".repeat(64) }],
      },
      { ...manifest, directories: manifest.directories.filter((d) => d !== "empty/nested") },
      { files: [], directories: [] },
    ];
    for (const forged of forgeries) {
      await write({ manifest: forged });
      expect(await readMarker(path, ref.digest)).toEqual({
        state: "bad",
        reason: "its completion marker lists files that do not match the digest",
      });
    }
    // Malformed manifests are refused before anything else, with or without a valid checksum.
    const raw = JSON.parse(await readFile(path, "utf8"));
    for (const malformed of [
      { files: "x", directories: [] },
      { files: [{ path: "a", size: -1, sha256: "0".repeat(64) }], directories: [] },
      { files: [{ path: "a", size: 1, sha256: "ABC" }], directories: [] },
      { files: [null], directories: [] },
      { files: [], directories: [3] },
      { files: [] },
      "manifest",
    ]) {
      const body = { ...raw, manifest: malformed };
      await writeFile(path, JSON.stringify(body));
      expect(await readMarker(path, ref.digest)).toMatchObject({
        state: "bad",
        reason: /checksum/,
      });
      await writeFile(path, JSON.stringify({ ...body, sha256: markerChecksum(body) }));
      expect(await readMarker(path, ref.digest)).toMatchObject({
        state: "bad",
        reason: /malformed manifest/,
      });
    }
  });

  it("a ref whose counts disagree with the manifest is refused, even with a valid checksum", async () => {
    for (const [forged, why] of [
      [{ ...ref, fileCount: ref.fileCount - 1 }, /files and .* directories, the ref says/],
      [{ ...ref, directoryCount: ref.directoryCount + 1 }, /directories, the ref says/],
      [{ ...ref, totalBytes: ref.totalBytes + 1 }, /bytes of files, the ref says/],
      [{ ...ref, manifestSize: ref.manifestSize + 1 }, /bytes long, the ref says/],
    ] as const) {
      await write({ ref: forged });
      expect(await readMarker(path, ref.digest)).toMatchObject({ state: "bad", reason: why });
    }
  });
});
