/**
 * Hostile CLI flags: property-based fuzzing (fast-check, seeded) of the real `trainable` binary
 * (`packages/cli/dist/bin.js`, spawned with node) with bad values of `--instance`, `--handle`,
 * `--epochs`, `--holdout`, `--seed`, `--param`, `--remote` and `--config`, across the commands
 * that take them. Every run must exit 2 (bad usage; 1 only for a not-found), print a one-line
 * error naming the flag and no stack trace, and leave the store (seeded with a real training
 * by the same binary) byte-identical.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { badId } from "./hostile/arbitraries.js";
import { runNode } from "./hostile/run-child.js";
import { snapshotTree } from "./hostile/snapshot.js";
import { TaggerConfig } from "./hostile/tagger-plugin.mjs";
import { recordCase, trials } from "./report.js";

const BIN = resolve(import.meta.dirname, "../../../packages/cli/dist/bin.js");
const PLUGIN = join(import.meta.dirname, "hostile", "tagger-plugin.mjs");
const SEED = 20_261_126;
const CASES = trials(200, 1000);

let work: string;
let cwd: string;
let storeDir: string;
let env: NodeJS.ProcessEnv;
let snapshot: Record<string, string>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "trainable-hostile-cli-"));
  cwd = join(work, "cwd");
  storeDir = join(work, "store");
  await mkdir(cwd);
  env = {
    ...process.env,
    TRAINABLE_REMOTE: pathToFileURL(storeDir).href,
    TRAINABLE_DATA_DIR: join(work, "engine"),
    TRAINABLE_CACHE_DIR: join(work, "cache"),
    NO_COLOR: "1",
  };
  // Seed the store through the binary itself: a real training of instance "good".
  const seeded = await runNode(
    BIN,
    ["train", `--plugin=${PLUGIN}`, "--instance=good", '--param=words=["spam"]', "--handle=v1"],
    { cwd, env, timeoutMs: 60_000 },
  );
  expect(seeded.code, seeded.stderr).toBe(0);
  snapshot = await snapshotTree(storeDir);
  expect(Object.keys(snapshot).some((k) => k.includes("/refs/v1/"))).toBe(true);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Mirrors of the CLI's own parsing: a value these accept would be a valid run (excluded). */
const intAccepted = (v: string, min: number, max: number) => {
  if (!/^-?\d+$/.test(v.trim())) return false;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min && n <= max;
};
const holdoutAccepted = (v: string) =>
  v.trim() !== "" && Number.isFinite(Number(v)) && Number(v) >= 0 && Number(v) <= 1;
const paramAccepted = (v: string) => {
  const eq = v.indexOf("=");
  return eq > 0 && /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(v.slice(0, eq).trim());
};
const configAccepted = (v: string, dir: string) => {
  const trimmed = v.trim();
  let text: string | undefined;
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) text = trimmed;
  else {
    const path = resolve(dir, v);
    if (!existsSync(path) || !statSync(path).isFile()) return false;
    text = readFileSync(path, "utf8");
  }
  try {
    return TaggerConfig.safeParse(JSON.parse(text)).success;
  } catch {
    return false;
  }
};
/** A URL `createBackend` could accept: file:, s3: and memory: (after URL's own trimming). */
const remoteMaybeValid = (v: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: URL parsing strips leading C0 controls
  /^(file|s3|memory):/i.test(v.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u0020]+/, ""));
const noNul = (v: string) => !v.includes("\u0000");
const noDevices = (v: string) => !/^\s*\/(dev|proc|sys)\b/.test(v);

const text = fc.string({ unit: "binary", maxLength: 60 }).filter(noNul);

const badEpochs = fc
  .oneof(
    fc.constantFrom(
      "",
      " ",
      "abc",
      "1.5",
      "1e3",
      "0x10",
      "+5",
      "5 5",
      "--1",
      "-1",
      "Infinity",
      "NaN",
    ),
    fc.constantFrom("9007199254740993", "99999999999999999999", "1000001", "٣"),
    fc.integer({ min: -1_000_000_000, max: -1 }).map(String),
    fc.integer({ min: 1_000_001, max: 2 ** 52 }).map(String),
    fc.double({ noNaN: false }).map(String),
    text,
  )
  .filter((v) => !intAccepted(v, 0, 1_000_000) && noNul(v));
const badHoldout = fc
  .oneof(
    fc.constantFrom(
      "",
      " ",
      "abc",
      "1.5",
      "-0.1",
      "2",
      "NaN",
      "Infinity",
      "-Infinity",
      "1,5",
      "50%",
      "0..5",
    ),
    fc.double({ noNaN: false }).map(String),
    fc.integer().map(String),
    text,
  )
  .filter((v) => !holdoutAccepted(v) && noNul(v));
const badSeed = fc
  .oneof(
    fc.constantFrom(
      "",
      " ",
      "abc",
      "1.5",
      "1e5",
      "0x10",
      "9".repeat(20),
      "-9".repeat(10),
      "Infinity",
    ),
    fc.double({ noInteger: true }).map(String),
    text,
  )
  .filter((v) => !intAccepted(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) && noNul(v));
const badParam = fc
  .oneof(
    fc.constantFrom(
      "novalue",
      "=x",
      "=",
      " =x",
      "1a=x",
      "a b=c",
      "a/b=c",
      "$" + "{x}=1",
      `${"k".repeat(200)}=v`,
      "é=1",
      "-a=1",
    ),
    text,
  )
  .filter((v) => !paramAccepted(v) && noNul(v));
const badConfig = fc
  .oneof(
    fc.constantFrom(
      "{",
      "[1,",
      "{a:1}",
      '{"unknown":1}',
      '{"tagKind":""}',
      '{"tagKind":5}',
      "[]",
      "[1,2]",
      `{"tagKind":"${"x".repeat(100)}"}`,
      "null",
      "missing.json",
      "./nope/x.json",
      "/nonexistent/config.json",
      ".",
      "..",
      "/",
      "/etc/hostname",
    ),
    fc.jsonValue({ maxDepth: 2 }).map((j) => JSON.stringify(j)),
    text,
  )
  .filter((v) => noNul(v) && noDevices(v) && !configAccepted(v, join(tmpdir(), "no-such-cwd")));
const badRemote = fc
  .oneof(
    fc.constantFrom(
      "",
      " ",
      "not a url",
      "/abs/path/without/scheme",
      "relative/dir",
      "file:relative/x",
      "file:./x",
      "file://host/x",
      "file:///tmp/x#frag",
      "file:///tmp/x?bogus=1",
      "file:///tmp/x?fsync=maybe",
      "file:",
      "s3:",
      "s3://",
      "s3:///prefix",
      "s3://bucket:9000/p",
      "s3://user:pass@bucket/p",
      "s3://bucket/p#f",
      "s3://bucket/p?unknown=1",
      "s3://bucket/p?maxAttempts=abc",
      "s3://bucket/p?forcePathStyle=yes",
      "s3://bucket/%zz",
      "s3://bucket/../../x",
      "s3://bucket/p?endpoint=ftp://x",
      "memory://x/y",
      "memory://?a=1",
      "memory://x#f",
      "http://example.invalid/store",
      "ftp://x/y",
      "gs://bucket/x",
      "c:\\store",
      "javascript:alert(1)",
    ),
    text.filter((v) => !remoteMaybeValid(v)),
  )
  .filter(noNul);

interface CliCase {
  flag: string;
  argv: string[];
}

const trainBase = [`--plugin=${PLUGIN}`, "--instance=good", "--handle=fuzz"];
const flagCases: fc.Arbitrary<CliCase> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        (v: string) => ["train", `--plugin=${PLUGIN}`, `--instance=${v}`],
        (v: string) => ["run", `--plugin=${PLUGIN}`, `--instance=${v}`, "--input=buy spam"],
        (v: string) => ["checkpoints", "list", `--instance=${v}`],
        (v: string) => ["checkpoints", "show", `--instance=${v}`],
        (v: string) => ["checkpoints", "pull", `--instance=${v}`, "--out=pulled"],
        (v: string) => ["checkpoints", "delete", `--instance=${v}`, "--handle=v1"],
        (v: string) => ["checkpoints", "prune", `--instance=${v}`, "--keep-last=1"],
      ),
      badId,
    )
    .map(([build, v]) => ({ flag: "--instance", argv: build(v) })),
  fc
    .tuple(
      fc.constantFrom(
        (v: string) => ["train", `--plugin=${PLUGIN}`, "--instance=good", `--handle=${v}`],
        (v: string) => [
          "run",
          `--plugin=${PLUGIN}`,
          "--instance=good",
          `--handle=${v}`,
          "--input=x",
        ],
        (v: string) => ["checkpoints", "show", "--instance=good", `--handle=${v}`],
        (v: string) => ["checkpoints", "pull", "--instance=good", `--handle=${v}`, "--out=pulled"],
        (v: string) => ["checkpoints", "delete", "--instance=good", `--handle=${v}`],
      ),
      badId,
    )
    .map(([build, v]) => ({ flag: "--handle", argv: build(v) })),
  badEpochs.map((v) => ({ flag: "--epochs", argv: ["train", ...trainBase, `--epochs=${v}`] })),
  badHoldout.map((v) => ({ flag: "--holdout", argv: ["train", ...trainBase, `--holdout=${v}`] })),
  badSeed.map((v) => ({ flag: "--seed", argv: ["train", ...trainBase, `--seed=${v}`] })),
  badParam.map((v) => ({
    flag: "--param",
    argv: ["train", ...trainBase, '--param=words=["x"]', `--param=${v}`],
  })),
  badConfig.map((v) => ({ flag: "--config", argv: ["train", ...trainBase, `--config=${v}`] })),
  fc
    .tuple(
      fc.constantFrom(
        () => ["train", ...trainBase],
        () => ["run", `--plugin=${PLUGIN}`, "--instance=good", "--input=buy spam"],
        () => ["checkpoints", "list", "--instance=good"],
        () => ["checkpoints", "delete", "--instance=good", "--handle=v1"],
      ),
      badRemote,
    )
    .map(([build, v]) => ({ flag: "--remote", argv: [`--remote=${v}`, ...build()] })),
);

const HINT = "(run with --help for usage)";

describe("hostile CLI flags", () => {
  it(`the trainable binary refuses ${CASES} generated bad flag values`, async () => {
    const perFlag = new Map<string, number>();
    const exits = new Map<number, number>();
    let ran = 0;
    let outcome = "";
    let passed = false;
    try {
      await fc.assert(
        fc.asyncProperty(flagCases, async ({ flag, argv }) => {
          const run = await runNode(BIN, argv, { cwd, env, timeoutMs: 30_000 });
          ran++;
          perFlag.set(flag, (perFlag.get(flag) ?? 0) + 1);
          exits.set(run.code ?? -1, (exits.get(run.code ?? -1) ?? 0) + 1);
          const label = `trainable ${argv.map((a) => JSON.stringify(a.length > 80 ? `${a.slice(0, 80)}…` : a)).join(" ")}`;
          const lines = run.stderr
            .split("\n")
            .map((l) => l.trimEnd())
            .filter((l) => l !== "" && l !== HINT);
          expect(run.timedOut, label).toBe(false);
          expect(lines, `${label}: one error line, got: ${run.stderr.slice(0, 3000)}`).toHaveLength(
            1,
          );
          const line = lines[0] ?? "";
          if (run.code === 1) expect(line, label).toMatch(/\[NOT_FOUND\]/);
          else expect(run.code, `${label}: ${line}`).toBe(2);
          expect(line, label).toMatch(/^(trainable: error|error:)/);
          expect(line, `${label}: names the flag`).toContain(flag);
          // ("no file at /path" is a fine message; a stack frame is not.)
          expect(run.stderr, `${label}: no stack`).not.toMatch(
            /^\s+at |node:internal|\.[cm]?js:\d+:\d+/m,
          );
          expect(run.stdout, label).toBe("");
          expect(await snapshotTree(storeDir), `${label}: store unchanged`).toEqual(snapshot);
        }),
        { numRuns: CASES, seed: SEED, endOnFailure: true },
      );
      expect(existsSync(join(cwd, "pulled")), "no pull target created").toBe(false);
      outcome = `every run exited ${[...exits.entries()].map(([c, n]) => `${c}×${n}`).join(", ")} with one error line naming the flag and no stack; store unchanged (per flag: ${[...perFlag.entries()].map(([f, n]) => `${f} ${n}`).join(", ")})`;
      passed = true;
    } catch (error) {
      outcome = `failed after ${ran} runs: ${(error as Error).message.slice(0, 500)}`;
      throw error;
    } finally {
      recordCase({
        id: "hostile-requests.cli-flags",
        method: `fast-check (seed ${SEED}) spawning packages/cli/dist/bin.js with generated bad values across train, run and checkpoints list/show/pull/delete/prune; store seeded by a real training`,
        backend: "cli",
        trials: ran,
        outcome,
        passed,
      });
    }
  });
});
