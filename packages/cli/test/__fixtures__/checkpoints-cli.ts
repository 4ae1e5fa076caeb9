import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pathToFileURL } from "node:url";
import type { CheckpointMetadata } from "@trainable/core";
import { Command } from "commander";
import { CliContext } from "../../src/context.js";
import type { CliIo } from "../../src/io.js";

/**
 * One `checkpoints` subcommand on a fresh commander program, with a `CliContext` (`--json`)
 * on a `file:` store in a temp dir (workspace "ws"): `run(...args)` parses the arguments
 * and answers the printed JSON; `save()` puts a checkpoint in the store directly.
 */
export async function checkpointsCli(
  register: (cmd: Command, ctx: () => CliContext) => void,
  options: { json?: boolean } = {},
) {
  const root = await mkdtemp(join(tmpdir(), "cli-checkpoints-"));
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const stderr = new PassThrough();
  stderr.resume();
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: root };
  const remote = pathToFileURL(join(root, "store")).href;
  const context = new CliContext(io, {
    remote,
    workspace: "ws",
    json: options.json ?? true,
    dataDir: join(root, "engine"),
  });
  const program = new Command().exitOverride().configureOutput({
    writeOut: () => {},
    writeErr: () => {},
  });
  register(program.command("checkpoints"), () => context);
  let folders = 0;
  return {
    root,
    remote,
    context,
    store: () => context.store(),
    /** Runs `checkpoints <args>`; answers the JSON printed (or the text without `--json`). */
    async run(...args: string[]): Promise<unknown> {
      out = "";
      await program.parseAsync(["checkpoints", ...args], { from: "user" });
      return options.json === false ? out : JSON.parse(out);
    },
    /** A model folder in the temp dir holding `files` (name → content). */
    async folder(files: Record<string, string>): Promise<string> {
      const dir = join(root, `model-${++folders}`);
      await mkdir(dir, { recursive: true });
      for (const [name, content] of Object.entries(files)) {
        await writeFile(join(dir, name), content);
      }
      return dir;
    },
    /** Saves a checkpoint of `instance` under `handle` straight into the store (default stays unless `setAsDefault`). */
    async save(
      instance: string,
      handle: string,
      content: string,
      extra: { setAsDefault?: boolean; metadata?: CheckpointMetadata } = {},
    ) {
      const store = await context.store();
      const folder = await this.folder({ "model.json": content });
      return store.save({
        pluginInstanceId: instance,
        handle,
        folder,
        setAsDefault: false,
        ...extra,
      });
    },
    async cleanup() {
      await context.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
