/**
 * Hostile archives, end to end through the store: each crafted archive is planted in a store
 * (file: and S3) under a new blob id with its manifest and a new newest ref version — manifest
 * canonical, digest, sizes and counts all consistent, as an attacker with bucket access would
 * write them — then loaded in a child process with `store.fetch`, `Model.loadRemote` and
 * `Model.loadRemote` through a disk cache. Each load must be refused with an `IntegrityError`
 * naming the problem (store format version 2 accepts nothing but the canonical tar of the
 * manifest: a setuid mode is refused, not stripped) — or, for a consistent checkpoint whose
 * path this filesystem cannot hold, a `ValidationError` about the target, the blob not
 * quarantined — nothing may be written outside the target
 * (a sentinel folder stays byte-identical; no target, no `.partial` folder, no temp or cache
 * entry left), and the child must stay under 300 MiB peak RSS and 60 s.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileBackend, type RemoteBackend } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Built,
  HOSTILE_ARCHIVES,
  type HostileArchive,
  type HostileContext,
} from "./hostile/archives.js";
import { checkCanonicalHeader } from "./hostile/craft-tar.js";
import { plantCheckpoint } from "./hostile/plant.js";
import { runNode } from "./hostile/run-child.js";
import { s3Backend, s3Settings } from "./hostile/s3.js";
import { snapshotTree } from "./hostile/snapshot.js";
import { caseName, recordCase } from "./report.js";

const CHILD = join(import.meta.dirname, "hostile", "load-child.mjs");
const MAX_RSS_BYTES = 300 * 1024 * 1024;
const MAX_MS = 60_000;
const WORKSPACE = "hostile";
const MIB = 1024 * 1024;

interface ChildResult {
  results: Array<{
    mode: string;
    ok: boolean;
    name?: string;
    code?: string;
    message?: string;
    ms: number;
    files?: string[];
  }>;
  maxRssBytes: number;
  ms: number;
}

let work: string;
let ctx: HostileContext;
let sentinelBefore: Record<string, string>;
const built = new Map<string, Promise<Built>>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "trainable-hostile-archives-"));
  const sentinel = join(work, "sentinel");
  await mkdir(sentinel);
  await writeFile(join(sentinel, "secret.txt"), "do not touch\n");
  await mkdir(join(sentinel, "nested"));
  await writeFile(join(sentinel, "nested", "keep.bin"), Buffer.alloc(1024, 7));
  const scratch = join(work, "scratch");
  await mkdir(scratch);
  ctx = { sentinel, scratch };
  // The hand-encoded canonical headers must be the store's, byte for byte.
  await checkCanonicalHeader(scratch);
  sentinelBefore = await snapshotTree(sentinel);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function archiveOf(c: HostileArchive): Promise<Built> {
  let p = built.get(c.id);
  if (!p) {
    p = c.build(ctx);
    built.set(c.id, p);
  }
  return p;
}

/** A message with long runs of one repeated unit shortened (`a/a/a/…[a/ ×2600]`). */
const elide = (message: string) =>
  message.replace(
    /(.{1,3}?)\1{40,}/g,
    (run, unit: string) =>
      `${unit.repeat(3)}…[${JSON.stringify(unit)} ×${run.length / unit.length}]`,
  );

/** Every path under `dir` that looks like a cached or half-extracted checkpoint. */
async function leftovers(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.filter((n) =>
    /(^|\/)[0-9a-f]{64}($|\.complete\.json$)|partial|trainable-load-/.test(n),
  );
}

const backends = ["file", "s3"] as const;

describe.each(backends)("hostile archives through the store (%s backend)", (kind) => {
  let backend: RemoteBackend;
  let storeRoot: string;

  beforeAll(async () => {
    storeRoot = join(work, `store-${kind}`);
    backend =
      kind === "file"
        ? createFileBackend({ root: storeRoot, fsync: false })
        : s3Backend("hostile-archives");
  });

  afterAll(async () => {
    await backend?.close?.();
  });

  for (const c of HOSTILE_ARCHIVES) {
    it(caseName(c.caseId), async () => {
      const { archive, manifest } = await archiveOf(c);
      const planted = await plantCheckpoint({
        backend,
        workspace: WORKSPACE,
        pluginInstanceId: c.id,
        manifest,
        compression: c.compression,
        archive,
        indexRecord: c.notDamage === true,
      });
      const runDir = join(work, `run-${kind}-${c.id}`);
      const out = join(runDir, "out");
      const tmp = join(runDir, "tmp");
      const cache = join(runDir, "cache");
      await Promise.all([out, tmp, cache].map((d) => mkdir(d, { recursive: true })));
      const modes = (kind === "s3" ? c.s3Modes : undefined) ??
        c.modes ?? ["fetch", "loadRemote", "cached"];
      const args = {
        backend:
          kind === "file" ? { kind, root: storeRoot } : { kind, ...s3Settings("hostile-archives") },
        workspace: WORKSPACE,
        pluginInstanceId: c.id,
        handle: "default",
        tmpDir: tmp,
        target: join(out, "checkpoint"),
        diskDir: cache,
        limits: c.limits,
        modes,
      };
      const run = await runNode(CHILD, [JSON.stringify(args)], {
        cwd: runDir,
        timeoutMs: MAX_MS + 30_000,
      });
      let outcome = `child exited ${run.code}${run.timedOut ? " (timed out)" : ""}: ${run.stderr.slice(0, 300)}`;
      let passed = false;
      try {
        expect(run.timedOut, "the load must finish (no runaway)").toBe(false);
        expect(run.code, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as ChildResult;
        const rss = `peak RSS ${Math.round(result.maxRssBytes / MIB)} MiB`;
        outcome = `${rss}, ${result.ms} ms; ${result.results.map((r) => `${r.mode}: ${r.ok ? `LOADED (${r.files?.join(", ")})` : `${r.name} ${elide(r.message ?? "")}`}`).join(" | ")}`;
        expect(result.results.map((r) => r.mode)).toEqual(modes);
        for (const r of result.results) {
          expect(r.ok, `${r.mode} must be refused`).toBe(false);
          expect(r.code, `${r.mode}: ${r.name}: ${r.message}`).toBe(c.code ?? "INTEGRITY");
          expect(r.message, r.mode).toMatch(c.refused);
          // Damage names the planted blob (its archive or manifest key).
          if (!c.notDamage) expect(r.message, r.mode).toContain(`blobs/${planted.blobId}.`);
        }
        if (c.notDamage) {
          expect(
            await backend.head(`${WORKSPACE}/${c.id}/quarantine/${planted.blobId}.json`),
            "a consistent blob the target cannot hold is not quarantined",
          ).toBeUndefined();
        }
        expect(await readdir(out), "no target and no .partial folder").toEqual([]);
        expect(await snapshotTree(ctx.sentinel), "sentinel folder untouched").toEqual(
          sentinelBefore,
        );
        expect(await readdir(tmp), "no temp folder left behind").toEqual([]);
        expect(await leftovers(cache), "nothing cached").toEqual([]);
        expect(await readdir(runDir).then((n) => n.sort()), "nothing else written").toEqual([
          "cache",
          "out",
          "tmp",
        ]);
        expect(result.maxRssBytes, rss).toBeLessThan(MAX_RSS_BYTES);
        expect(result.ms).toBeLessThan(MAX_MS);
        passed = true;
        const messages = [...new Set(result.results.map((r) => elide(r.message ?? "")))];
        const kind = c.code === "VALIDATION" ? "ValidationError" : "IntegrityError";
        outcome = `refused by ${modes.join(", ")} (${kind}: ${messages.join(" | ")})${c.notDamage ? "; the blob (with an index record) is not quarantined" : ""}; nothing written outside; ${rss}, ${result.ms} ms`;
      } finally {
        recordCase({
          id: c.caseId,
          method: `planted (archive, canonical manifest, new newest ref version; digest, sizes and counts consistent) and loaded via ${modes.join(", ")} in a child process${c.limits ? ` (limits ${JSON.stringify(c.limits)})` : ""}`,
          backend: kind,
          trials: modes.length,
          outcome,
          passed,
        });
        await rm(runDir, { recursive: true, force: true });
      }
    });
  }
});
