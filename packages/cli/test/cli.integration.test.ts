import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, type CliResult, spawnCli } from "./__fixtures__/spawn-cli.js";

const plugin = join(import.meta.dirname, "__fixtures__", "echo-plugin.mjs");

type Result = CliResult;

let cwd: string;

function trainable(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return spawnCli(cwd, args, options);
}

function expectOneLineError(r: Result, pattern: RegExp) {
  const lines = r.stderr.trim().split("\n");
  expect(lines.at(-1)).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error("build the CLI first (turbo builds it before tests)");
  cwd = await mkdtemp(join(tmpdir(), "trainable-cli-"));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("trainable (spawned binary)", () => {
  it("prints help for every command", async () => {
    for (const args of [
      ["--help"],
      ["train", "--help"],
      ["run", "--help"],
      ["serve", "--help"],
      ["checkpoints", "--help"],
      ["checkpoints", "prune", "--help"],
      ["checkpoints", "verify", "--help"],
    ]) {
      const r = await trainable(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/Usage: trainable/);
    }
  });

  it("rejects bad flags with a one-line error and exit code 2", async () => {
    let r = await trainable(["train", "--plugin", plugin, "--instance", "t", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
    r = await trainable(["train", "--plugin", plugin, "--instance", "../x"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--instance/);
    r = await trainable(["train", "--plugin", plugin, "--instance", "t", "--holdout", "1.5"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--holdout: must be a number from 0 to 1/);
    r = await trainable(["train", "--plugin", plugin, "--instance", "t", "--epochs", "-1"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--epochs/);
    r = await trainable(["train", "--plugin", "./nope.mjs", "--instance", "t"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--plugin: no file at/);
    r = await trainable(["train", "--plugin", plugin, "--instance", "t", "--param", "novalue"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--param: expected key=value/);
    r = await trainable(["--remote", "ftp://x", "checkpoints", "list", "--instance", "t"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /ftp/);
  });

  it("resume with no unfinished training says so", async () => {
    const r = await trainable(["resume", "--plugin", plugin]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nothing to resume/);
  });

  it("a missing checkpoint is a clear one-line error", async () => {
    const r = await trainable(["checkpoints", "show", "--instance", "ghost", "--handle", "v1"]);
    expect(r.code).toBe(1);
    expectOneLineError(r, /NOT_FOUND.*handle "v1" of local\/ghost/);
    const d = await trainable(["--debug", "checkpoints", "show", "--instance", "ghost"]);
    expect(d.stderr).toMatch(/\n\s+at /); // --debug shows the stack
  });

  it("trains, lists, shows, runs, pulls, prunes and deletes", async () => {
    let r = await trainable([
      "train",
      "--plugin",
      plugin,
      "--instance",
      "tagger",
      "--param",
      "word=cat",
      "--handle",
      "v1",
    ]);
    expect(r.stderr + r.stdout).toContain("trained tagger: succeeded");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/checkpoint: v1 \(default\)/);
    expect(r.stderr).toMatch(/100% train/); // plain progress lines when not a TTY
    expect(r.stderr).toMatch(/upload \d+/); // the save's upload progress

    r = await trainable([
      "--json",
      "train",
      "--plugin",
      plugin,
      "--instance",
      "tagger",
      "--param",
      "word=dog",
      "--handle",
      "v2",
      "--no-default",
    ]);
    expect(r.code).toBe(0);
    const task = JSON.parse(r.stdout);
    expect(task.state).toBe("succeeded");
    expect(task.output.trainingResults.accuracy).toBeCloseTo(0.53);

    r = await trainable(["--json", "checkpoints", "list", "--instance", "tagger"]);
    const list = JSON.parse(r.stdout) as { handle: string; digest: string }[];
    expect(list.map((x) => x.handle)).toEqual(["default", "v1", "v2"]);
    expect(list[0]?.digest).toBe(list[1]?.digest);

    r = await trainable([
      "run",
      "--plugin",
      plugin,
      "--instance",
      "tagger",
      "--input",
      "the cat sat",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).file.blocks[0].tags).toEqual([{ kind: "word", name: "cat" }]);
    r = await trainable(
      ["run", "--plugin", plugin, "--instance", "tagger", "--handle", "v2", "--input", "-"],
      { input: "a dog" },
    );
    expect(JSON.parse(r.stdout).file.blocks[0].tags[0].name).toBe("dog");

    r = await trainable(["checkpoints", "show", "--instance", "tagger", "--handle", "v2"]);
    expect(r.stdout).toMatch(/word\.txt\s+3/);
    expect(r.stdout).toMatch(/^files \(1, 3 bytes\):$/m);
    r = await trainable([
      "--json",
      "checkpoints",
      "show",
      "--instance",
      "tagger",
      "--handle",
      "v2",
    ]);
    expect(JSON.parse(r.stdout)).toMatchObject({
      formatVersion: 2,
      handle: "v2",
      fileCount: 1,
      directoryCount: 0,
      totalBytes: 3,
      files: [{ path: "word.txt", size: 3, sha256: expect.stringMatching(/^[a-f0-9]{64}$/) }],
      directories: [],
    });
    const out = join(cwd, "pulled");
    r = await trainable([
      "checkpoints",
      "pull",
      "--instance",
      "tagger",
      "--handle",
      "v2",
      "--out",
      out,
    ]);
    expect(r.code).toBe(0);
    expect(await readFile(join(out, "word.txt"), "utf8")).toBe("dog");

    r = await trainable([
      "checkpoints",
      "prune",
      "--instance",
      "tagger",
      "--keep-last",
      "0",
      "--dry-run",
    ]);
    expect(r.stdout).toMatch(/would delete: v1, v2|would delete: v2, v1/);
    r = await trainable(["checkpoints", "delete", "--instance", "tagger", "--handle", "v2"]);
    expect(r.code).toBe(0);
    r = await trainable([
      "run",
      "--plugin",
      plugin,
      "--instance",
      "tagger",
      "--handle",
      "v2",
      "--input",
      "dog",
    ]);
    expect(r.code).toBe(1);
    expectOneLineError(r, /NOT_FOUND/);
  });

  it("verifies stored blobs, reports a corrupted one and quarantines it with --repair", async () => {
    const storeDir = join(cwd, "verify-store");
    const remote = ["--remote", pathToFileURL(storeDir).href];
    const train = (instance: string, word: string, handle: string) =>
      trainable([
        ...remote,
        "--json",
        "train",
        "--plugin",
        plugin,
        "--instance",
        instance,
        "--param",
        `word=${word}`,
        "--handle",
        handle,
      ]);
    const verify = (...args: string[]) =>
      trainable([...remote, "checkpoints", "verify", "--instance", "vt", ...args]);

    // Bad flags are usage errors.
    let r = await trainable([...remote, "checkpoints", "verify"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option '--instance <id>' not specified/);
    r = await trainable([...remote, "checkpoints", "verify", "--instance", "../x"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /--instance/);
    r = await verify("--bogus");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);

    r = await train("vt", "cat", "v1");
    expect(r.code).toBe(0);
    const archivePath = JSON.parse(r.stdout).output.archivePath as string;
    r = await train("intact", "dog", "v1");
    expect(r.code).toBe(0);

    // An intact store: exit 0.
    r = await verify();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^checked 1 blob \(\d+ bytes verified\): 1 ok, 0 bad, 0 unreferenced$/m,
    );
    expect(r.stdout).not.toMatch(/^bad:/m);

    // Corrupt one byte of the stored archive (the first byte of word.txt's data).
    const blobsDir = join(storeDir, "local", "vt", "blobs");
    const tars = (await readdir(blobsDir)).filter((name) => name.endsWith(".tar"));
    expect(tars).toHaveLength(1);
    const tar = tars[0] as string;
    expect(archivePath).toBe(`local/vt/blobs/${tar}`);
    const blobId = tar.slice(0, -".tar".length);
    const bytes = await readFile(join(blobsDir, tar));
    const at = bytes.indexOf("cat", 512);
    expect(at).toBeGreaterThanOrEqual(512);
    bytes[at] = (bytes[at] as number) ^ 0xff;
    await writeFile(join(blobsDir, tar), bytes);

    const list = JSON.parse(
      (await trainable([...remote, "--json", "checkpoints", "list", "--instance", "vt"])).stdout,
    ) as { handle: string; digest: string }[];
    const digest = list[0]?.digest as string;
    const indexRecord = join(
      storeDir,
      "local",
      "vt",
      "index",
      "sha256",
      digest.slice(7),
      `${blobId}.json`,
    );
    const quarantineMarker = join(storeDir, "local", "vt", "quarantine", `${blobId}.json`);
    expect(existsSync(indexRecord)).toBe(true);

    // verify reports it (exit 1) and changes nothing.
    r = await verify();
    expect(r.code).toBe(1);
    const badLine = r.stdout.split("\n").find((line) => line.startsWith("bad: "));
    expect(badLine).toContain(archivePath);
    expect(badLine).toContain(digest);
    expect(badLine).toContain("handles: default, v1");
    expect(badLine).toContain("not quarantined");
    expect(badLine).toMatch(/word\.txt/); // the reason names the damaged file
    expect(r.stdout).toMatch(
      /^checked 1 blob \(0 bytes verified\): 0 ok, 1 bad \(0 quarantined\), 0 unreferenced$/m,
    );
    expect(r.stdout).toMatch(/--repair/);
    expect(existsSync(quarantineMarker)).toBe(false);
    expect(existsSync(indexRecord)).toBe(true);

    r = await trainable([...remote, "--json", "checkpoints", "verify", "--instance", "vt"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ checked: 1, ok: 0, unreferenced: 0 });
    expect(report.bad).toEqual([
      {
        blobId,
        archivePath,
        digest,
        reason: expect.any(String),
        handles: ["default", "v1"],
        quarantined: false,
      },
    ]);

    // --repair quarantines it: still exit 1 (the data is lost), marker written, index record gone.
    r = await verify("--repair");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^bad: .*\bquarantined\b/m);
    expect(r.stdout).not.toMatch(/not quarantined/);
    expect(r.stdout).toMatch(/1 bad \(1 quarantined\)/);
    expect(existsSync(quarantineMarker)).toBe(true);
    expect(JSON.parse(await readFile(quarantineMarker, "utf8"))).toMatchObject({
      reason: expect.any(String),
    });
    expect(existsSync(indexRecord)).toBe(false);

    // A save of the same content does not reuse the quarantined blob.
    r = await train("vt", "cat", "v2");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).output.archivePath).not.toBe(archivePath);
    r = await trainable([
      ...remote,
      "run",
      "--plugin",
      plugin,
      "--instance",
      "vt",
      "--handle",
      "v2",
      "--input",
      "a cat",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).file.blocks[0].tags[0].name).toBe("cat");

    // Another instance of the same store is intact: exit 0.
    r = await trainable([...remote, "checkpoints", "verify", "--instance", "intact"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1 ok, 0 bad/);
  });

  it("serves the plugin over HTTP until SIGTERM", async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [bin, "serve", "--plugin", plugin, "--port", "0", "--instance", "tagger"],
      {
        cwd,
        env: { ...process.env, NODE_NO_WARNINGS: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout?.on("data", (d) => {
        buf += d;
        const m = /on (http:\/\/\S+)/.exec(buf);
        if (m) resolve(m[1] as string);
      });
      child.on("exit", (code) => reject(new Error(`serve exited ${code}`)));
    });
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const tag = await fetch(`${url}/tag`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        data: { file: { blocks: [{ text: "a cat" }] } },
        context: { pluginInstanceId: "tagger" },
      }),
    });
    expect(tag.status).toBe(200);
    const bad = await fetch(`${url}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{oops",
    });
    expect(bad.status).toBe(400);
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
