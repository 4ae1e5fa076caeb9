/**
 * A Steamship import stopped by Ctrl-C is all or nothing, like one a zip refusal stops: the
 * built `trainable checkpoints import` gets a real SIGINT at a deterministic point (paused,
 * through a FIFO, right after it said it starts the second zip, the first one imported), and
 * exits 130 saying what it undid; the store's handles are as before the import and no
 * temporary folder is left. `importSteamship` itself answers an aborted signal the same way.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CancelledError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importSteamship } from "../src/steamship/import-steamship.js";
import { python, ZIP_FOLDER } from "./__fixtures__/python.js";
import { bin, type CliResult, spawnCli } from "./__fixtures__/spawn-cli.js";

const PAUSE_HOOK = join(import.meta.dirname, "__fixtures__", "pause-on-stderr.mjs");

let cwd: string;
/** `a.zip`, `b.zip` and `default.zip` (a copy of `b.zip`), imported in that order. */
let source: string;

const cli = (args: string[]) => spawnCli(cwd, args);
const json = <T>(r: CliResult): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const handlesOf = async (instance: string) =>
  json<{ handle: string; digest: string }[]>(
    await cli(["--json", "checkpoints", "list", "--instance", instance]),
  ).map((r) => `${r.handle} ${r.digest}`);

/** An instance whose handle `a` exists before the import, with other content. */
async function instanceWithA(instance: string): Promise<string[]> {
  const before = join(cwd, `${instance}-before`);
  await mkdir(before);
  await writeFile(join(before, "old.txt"), "old");
  const r = await cli([
    "checkpoints",
    "push",
    before,
    "--instance",
    instance,
    "--handle",
    "a",
    "--no-default",
  ]);
  expect(r.code, r.stderr).toBe(0);
  return handlesOf(instance);
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error("build the CLI first (turbo builds it before tests)");
  cwd = await mkdtemp(join(tmpdir(), "trainable-steamship-interrupt-"));
  source = join(cwd, "source");
  const models = join(cwd, "models");
  for (const handle of ["a", "b"]) {
    await mkdir(join(models, handle, "weights"), { recursive: true });
    await writeFile(join(models, handle, "weights", "w.bin"), Buffer.alloc(200_000, handle));
    await writeFile(join(models, handle, "config.json"), JSON.stringify({ handle }));
  }
  python(
    `${ZIP_FOLDER}
models, source = Path(sys.argv[1]), Path(sys.argv[2])
source.mkdir(parents=True)
for handle in ("a", "b"):
    zip_folder(models / handle, into_file=source / f"{handle}.zip")
shutil.copyfile(source / "b.zip", source / "default.zip")
`,
    [models, source],
  );
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/**
 * Starts `trainable checkpoints import` of `source` into `instance`, pausing at each of
 * `pauses` (texts it writes to stderr); `interrupt()` sends SIGINT at the next pause.
 */
async function startImport(instance: string, pauses: string[], tmp: string) {
  const fifo = join(cwd, `${instance}.fifo`);
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
  const args = ["checkpoints", "import", "--from", "steamship", source, "--instance", instance];
  const child = spawn(
    process.execPath,
    ["--import", pathToFileURL(PAUSE_HOOK).href, bin, ...args],
    {
      cwd,
      env: {
        ...process.env,
        NODE_NO_WARNINGS: "1",
        TRAINABLE_CACHE_DIR: join(cwd, "cache"),
        TMPDIR: tmp,
        PAUSE_ON_TEXT: pauses.join("|"),
        PAUSE_FIFO: fifo,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => {
    out.stdout += d;
  });
  child.stderr.on("data", (d) => {
    out.stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const interrupt = async () => {
    const text = pauses.shift() as string;
    // Opening the write end waits for the paused process to open the read end.
    const writeEnd = await open(fifo, "w");
    for (let tries = 0; !out.stderr.includes(text) && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(out.stderr).toContain(text);
    child.kill("SIGINT");
    // The signal is pending while the process is paused: it handles it once it runs again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writeEnd.close();
  };
  return { out, exited, interrupt };
}

describe("checkpoints import interrupted by Ctrl-C", () => {
  it("exits 130 having put back every handle it wrote, leaving no temporary folder", async () => {
    const instance = "interrupted";
    const before = await instanceWithA(instance);
    expect(before.map((line) => line.split(" ")[0])).toEqual(["a"]);
    const tmp = await mkdtemp(join(cwd, "tmp-"));
    const run = await startImport(instance, ["b.zip → b"], tmp);
    await run.interrupt();

    expect(await run.exited, run.out.stderr).toEqual({ code: 130, signal: null });
    expect(run.out.stderr).toMatch(/a\.zip → a\n[\s\S]*b\.zip → b\n/);
    expect(run.out.stdout).toBe("");
    const last = run.out.stderr.trim().split("\n").at(-1) ?? "";
    expect(last).toMatch(/^trainable: error \[CANCELLED\]: Import interrupted \(Ctrl-C\)/);
    expect(last).toMatch(/nothing imported into interrupted/);
    expect(last).toMatch(/put back to their previous checkpoint: a\b/);
    expect(await handlesOf(instance)).toEqual(before);
    // The store's staging folders (and downloaded zips) went with the import.
    expect(await readdir(tmp)).toEqual([]);
  });

  it("a second Ctrl-C quits at once with 130, saying the undo may not be finished", async () => {
    const tmp = await mkdtemp(join(cwd, "tmp-"));
    const run = await startImport(
      "interrupted-twice",
      ["b.zip → b", "interrupted: stopping the import"],
      tmp,
    );
    await run.interrupt();
    await run.interrupt();
    expect(await run.exited, run.out.stderr).toEqual({ code: 130, signal: null });
    expect(run.out.stderr.trim().split("\n").at(-1)).toMatch(
      /^trainable: interrupted again: quit at once; handles already imported may be left: check them with "trainable checkpoints list --instance interrupted-twice"$/,
    );
  });
});

describe("importSteamship with an aborted signal", () => {
  it.each([
    {
      at: "b.zip",
      instance: "aborted-at-b",
      aExists: true,
      undid: /nothing imported into aborted-at-b \(put back to their previous checkpoint: a;/,
    },
    {
      at: "default.zip",
      instance: "aborted-at-default",
      aExists: false,
      undid: /nothing imported into aborted-at-default \(imported, then removed: (default, )?b, a;/,
    },
  ])(
    "stopped as $at starts: rejects with CancelledError naming what it undid; the handles are as before",
    async ({ at, instance, aExists, undid }) => {
      const before = aExists ? await instanceWithA(instance) : [];
      const tmp = await mkdtemp(join(cwd, "tmp-lib-"));
      const store = await createCheckpointStore({
        url: pathToFileURL(join(cwd, ".trainable", "store")).href,
        workspace: "local",
        tmpDir: tmp,
      });
      const controller = new AbortController();
      try {
        const error = await importSteamship({
          store,
          pluginInstanceId: instance,
          source,
          tmpDir: tmp,
          signal: controller.signal,
          onMessage: (text) => {
            if (text.startsWith(at)) controller.abort();
          },
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(CancelledError.isInstance(error), String(error)).toBe(true);
        expect((error as Error).message).toMatch(undid);
      } finally {
        await store.close();
      }
      expect(aExists ? await handlesOf(instance) : []).toEqual(before);
      if (!aExists) {
        const r = await cli(["checkpoints", "list", "--instance", instance]);
        expect(r.stdout).toMatch(/no checkpoints/);
      }
      expect(await readdir(tmp)).toEqual([]);
    },
  );
});
