/**
 * Hostile archives, end to end through the store: each crafted archive is planted in a store
 * (file: and S3) with a valid ref — manifest digest, archive sha256 and size all consistent, as
 * an attacker with bucket access would write it — then loaded in a child process with
 * `store.fetch`, `Model.loadRemote` and `Model.loadRemote` through a disk cache. Each load must be
 * refused with an `IntegrityError` naming the problem (setuid bits: stripped, not refused),
 * nothing may be written outside the target (a sentinel folder stays byte-identical; no target,
 * no `.partial` folder, no temp or cache entry left), and the child must stay under 300 MiB
 * peak RSS and 60 s.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileBackend, type RemoteBackend } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOSTILE_ARCHIVES, type HostileArchive, type HostileContext } from "./hostile/archives.js";
import { type ArchiveBytes, plantCheckpoint } from "./hostile/plant.js";
import { runNode } from "./hostile/run-child.js";
import { s3Backend, s3Settings } from "./hostile/s3.js";
import { snapshotTree } from "./hostile/snapshot.js";
import { recordCase } from "./report.js";

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
const built = new Map<string, Promise<ArchiveBytes>>();

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
  sentinelBefore = await snapshotTree(sentinel);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function archiveOf(c: HostileArchive): Promise<ArchiveBytes> {
  let p = built.get(c.id);
  if (!p) {
    p = Promise.resolve(c.build(ctx));
    built.set(c.id, p);
  }
  return p;
}

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
    it(c.title, async () => {
      const archive = await archiveOf(c);
      await plantCheckpoint({
        backend,
        workspace: WORKSPACE,
        pluginInstanceId: c.id,
        files: c.files(ctx),
        directories: c.directories?.(ctx),
        compression: c.compression,
        archive,
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
        outcome = `${rss}, ${result.ms} ms; ${result.results.map((r) => `${r.mode}: ${r.ok ? "ok" : `${r.name} ${r.message}`}`).join(" | ")}`;
        expect(result.results.map((r) => r.mode)).toEqual(modes);
        if (c.refused) {
          for (const r of result.results) {
            expect(r.ok, `${r.mode} must be refused`).toBe(false);
            expect(r.code, `${r.mode}: ${r.name}: ${r.message}`).toBe("INTEGRITY");
            expect(r.message, r.mode).toMatch(c.refused);
          }
          expect(await readdir(out), "no target and no .partial folder").toEqual([]);
        } else {
          for (const r of result.results) expect(r.ok, `${r.mode}: ${r.message}`).toBe(true);
          const target = join(out, "checkpoint");
          expect((await stat(join(target, "bin"))).mode & 0o7777).toBe(0o755);
          expect((await stat(join(target, "bin", "tool"))).mode & 0o7777).toBe(0o644);
          expect((await stat(join(target, "bin", "group-tool"))).mode & 0o7777).toBe(0o644);
          expect((await stat(join(target, "model.bin"))).mode & 0o7777).toBe(0o644);
        }
        expect(await snapshotTree(ctx.sentinel), "sentinel folder untouched").toEqual(
          sentinelBefore,
        );
        expect(await readdir(tmp), "no temp folder left behind").toEqual([]);
        if (c.refused) expect(await leftovers(cache), "nothing cached").toEqual([]);
        expect(await readdir(runDir).then((n) => n.sort()), "nothing else written").toEqual([
          "cache",
          "out",
          "tmp",
        ]);
        expect(result.maxRssBytes, rss).toBeLessThan(MAX_RSS_BYTES);
        expect(result.ms).toBeLessThan(MAX_MS);
        passed = true;
        const summary = result.results[0];
        outcome = c.refused
          ? `refused (IntegrityError: ${summary?.message?.slice(0, 160)}); nothing written outside; ${rss}, ${result.ms} ms`
          : `loaded, setuid/setgid/sticky bits stripped (files 0644, dirs 0755); ${rss}, ${result.ms} ms`;
      } finally {
        recordCase({
          area: "hostile archives",
          case: c.title,
          method: `planted with a consistent ref and loaded via ${modes.join(", ")} in a child process${c.limits ? ` (limits ${JSON.stringify(c.limits)})` : ""}`,
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
