import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TransferProgress } from "@trainable/core";
import { afterAll, describe, expect, it } from "vitest";
import { createCheckpointStore } from "./create-checkpoint-store.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "save-progress-"));
  dirs.push(dir);
  await mkdir(join(dir, "sub", "empty"), { recursive: true });
  await writeFile(join(dir, "weights.bin"), randomBytes(700 * 1024 + 3));
  await writeFile(join(dir, "sub", "config.json"), '{"a":1}');
  await writeFile(join(dir, "zeros.bin"), Buffer.alloc(600 * 1024));
  return dir;
}

describe("save progress", () => {
  for (const compression of ["none", "gzip"] as const) {
    it(`upload progress ends at 100 % and never passes its total (${compression})`, async () => {
      const store = await createCheckpointStore({
        url: "memory://",
        workspace: "ws",
        compression,
        fingerprintCache: false,
      });
      const events: TransferProgress[] = [];
      const { ref } = await store.save({
        pluginInstanceId: "inst",
        handle: "v1",
        folder: await folder(),
        onProgress: (p) => events.push({ ...p }),
      });
      const uploads = events.filter((p) => p.phase === "upload");
      expect(uploads.length).toBeGreaterThan(1);
      for (const p of uploads) expect(p.bytes).toBeLessThanOrEqual(p.total ?? 0);
      expect(uploads.at(-1)).toEqual({ phase: "upload", bytes: ref.size, total: ref.size });
      if (compression === "none") {
        // The estimate of an uncompressed archive is its exact size: the bar moves evenly.
        for (const p of uploads) expect(p.total).toBe(ref.size);
      }
      await store.close();
    });
  }
});

describe("package version", () => {
  it("saves record the version of package.json (injected at build) as packageVersion", async () => {
    const { version } = JSON.parse(
      readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
    ) as { version: string };
    const store = await createCheckpointStore({
      url: "memory://",
      workspace: "ws",
      fingerprintCache: false,
    });
    const { ref } = await store.save({
      pluginInstanceId: "inst",
      handle: "v1",
      folder: await folder(),
    });
    expect(ref.metadata.packageVersion).toBe(version);
    await store.close();
  });
});
