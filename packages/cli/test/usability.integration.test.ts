// What a user meets at the shell: one error style, JSON errors, help without a command, the
// version, explicit file input, flag names in errors. Spawns the built binary.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, spawnCli } from "./__fixtures__/spawn-cli.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "dist", "bin.js");
const launcher = join(root, "bin", "trainable.js");
const plugin = join(import.meta.dirname, "__fixtures__", "echo-plugin.mjs");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
};

type Result = CliResult;

let cwd: string;

function trainable(args: string[], entry = bin): Promise<Result> {
  return spawnCli(cwd, args, { entry });
}

/** The last stderr line is the one error line, in the CLI's single style, without tags. */
function errorLine(r: Result): string {
  const line = r.stderr.trim().split("\n").at(-1) ?? "";
  expect(line).toMatch(/^trainable: error \[[A-Z_]+\]: /);
  expect(r.stderr).not.toMatch(/\[(cli|core|storage|cache|runtime|s3)\]/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return line;
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error("build the CLI first (turbo builds it before tests)");
  cwd = await mkdtemp(join(tmpdir(), "trainable-cli-usability-"));
  const trained = await trainable([
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
  expect(trained.code, trained.stderr).toBe(0);
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("trainable at the shell", () => {
  it("bare `trainable` prints help on stderr and exits 2", async () => {
    const r = await trainable([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: trainable/);
    expect(r.stdout).toBe("");
    const sub = await trainable(["checkpoints"]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/Usage: trainable checkpoints/);
  });

  it("--version prints the version of package.json, injected at build", async () => {
    const r = await trainable(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    const built = readFileSync(bin, "utf8") + readChunks();
    expect(built).toContain(`CLI_VERSION = ${JSON.stringify(pkg.version)}`);
    expect(built).not.toMatch(/__TRAINABLE_CLI_VERSION__/);
    // The build takes it from package.json (whatever the version is), not a literal in src.
    const configPath = join(root, "tsup.config.ts");
    const { default: config } = (await import(configPath)) as {
      default: { define?: Record<string, string> };
    };
    expect(config.define?.__TRAINABLE_CLI_VERSION__).toBe(JSON.stringify(pkg.version));
  });

  it("the package's bin is a committed launcher, so pnpm links it before the build", async () => {
    expect(pkg.bin.trainable).toBe("./bin/trainable.js");
    const r = await trainable(["--version"], launcher);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    // Before the build, it says what to do.
    const unbuilt = join(cwd, "unbuilt-cli");
    await mkdir(join(unbuilt, "bin"), { recursive: true });
    await copyFile(launcher, join(unbuilt, "bin", "trainable.js"));
    const early = await trainable(["--version"], join(unbuilt, "bin", "trainable.js"));
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/the CLI is not built yet: run `npx -y pnpm@10\.34\.9 build`/);
  });

  it("commander's usage errors and the CLI's own share one style", async () => {
    let r = await trainable(["train", "--plugin", plugin, "--instance", "t", "--bogus"]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe(
      "trainable: error [VALIDATION]: unknown option '--bogus' (see --help)",
    );
    r = await trainable(["run", "--plugin", plugin, "--instance", "../x", "--input", "x"]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/^trainable: error \[VALIDATION\]: Invalid --instance: /);
    r = await trainable(["--remote", "ftp://x", "checkpoints", "list", "--instance", "t"]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/Invalid --remote: .*ftp/);
    r = await trainable(["checkpoints", "show", "--instance", "ghost"]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/^trainable: error \[NOT_FOUND\]: /);
  });

  it("--json prints { error: { code, message } } on stdout on failure", async () => {
    let r = await trainable(["--json", "checkpoints", "show", "--instance", "ghost"]);
    expect(r.code).toBe(1);
    const notFound = JSON.parse(r.stdout);
    expect(notFound).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    expect(notFound.error.message).toMatch(/ghost/);
    expect(notFound.error.message).not.toMatch(/\[storage\]/);
    r = await trainable(["--json", "train", "--bogus"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: "VALIDATION", message: expect.stringMatching(/--bogus|--plugin/) },
    });
    r = await trainable(["--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: "VALIDATION", message: "missing command" },
    });
  });

  it("--input is always the text itself; --input-file reads a file", async () => {
    await writeFile(join(cwd, "cat.txt"), "the cat sat");
    await mkdir(join(cwd, "dist"), { recursive: true });
    const run = (...input: string[]) =>
      trainable(["run", "--plugin", plugin, "--instance", "tagger", ...input]);

    // Text that names an existing file is not read as that file.
    let r = await run("--input", "cat.txt");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).file.blocks[0]).toMatchObject({ text: "cat.txt" });
    r = await run("--input", "dist");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).file.blocks[0]).toMatchObject({ text: "dist", tags: [] });

    r = await run("--input-file", "cat.txt");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).file.blocks[0]).toMatchObject({
      text: "the cat sat",
      tags: [{ name: "cat" }],
    });

    // A directory, a missing file, or both flags: a typed error naming the flag.
    r = await run("--input-file", "dist");
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/EISDIR/);
    expect(errorLine(r)).toMatch(/\[VALIDATION\]: Invalid --input-file: .*dist is a directory/);
    r = await run("--input-file", "nope.txt");
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/Invalid --input-file: no file at .*nope\.txt/);
    r = await run("--input", "x", "--input-file", "cat.txt");
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/exactly one of --input .* and --input-file/);
    r = await run();
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/--input/);
  });

  it("--config naming a directory is a typed error naming the flag", async () => {
    const r = await trainable(["train", "--plugin", plugin, "--instance", "t", "--config", "dist"]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/EISDIR/);
    expect(errorLine(r)).toMatch(/Invalid --config: .*dist is a directory/);
  });

  it("prune errors name the flags, not the library's option fields", async () => {
    let r = await trainable(["checkpoints", "prune", "--instance", "tagger"]);
    expect(r.code).toBe(2);
    let line = errorLine(r);
    expect(line).toMatch(/--keep-last and\/or --keep-best/);
    expect(line).not.toMatch(/keepLast|keepBest/);
    r = await trainable(["checkpoints", "prune", "--instance", "tagger", "--keep-best", "1"]);
    expect(r.code).toBe(2);
    line = errorLine(r);
    expect(line).toMatch(/--metric/);
    expect(line).not.toMatch(/keepBest/);
  });
});

function readChunks(): string {
  const dist = join(root, "dist");
  return readdirSync(dist)
    .filter((f: string) => f.endsWith(".js"))
    .map((f: string) => readFileSync(join(dist, f), "utf8"))
    .join("\n");
}
