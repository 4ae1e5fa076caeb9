import { TrainableError } from "@trainable/core";
import { Command, CommanderError } from "commander";
import { registerCheckpoints } from "./commands/checkpoints.js";
import { registerResume } from "./commands/resume.js";
import { registerRun } from "./commands/run.js";
import { registerServe } from "./commands/serve.js";
import { registerTrain } from "./commands/train.js";
import { CliContext, type GlobalOptions } from "./context.js";
import { type CliIo, processIo } from "./io.js";

export const CLI_VERSION = "0.0.0";

/** Exit codes: 0 success, 1 failure, 2 bad usage (unknown command or flag, bad flag value). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Runs the `trainable` command with `argv` (without node and script) and resolves to the
 * exit code. Never throws; prints a one-line error (a stack only with `--debug`).
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let context: CliContext | undefined;
  const program = new Command("trainable")
    .description("Train, serve and manage checkpoints of trainable plugins.")
    .version(CLI_VERSION)
    .option(
      "--remote <url>",
      "checkpoint store URL: file:///abs, s3://bucket/prefix?endpoint=…, memory:// (env TRAINABLE_REMOTE; default file: under ./.trainable/store)",
    )
    .option("--workspace <id>", 'workspace id (env TRAINABLE_WORKSPACE; default "local")')
    .option(
      "--data-dir <dir>",
      "engine state: tasks and instances (env TRAINABLE_DATA_DIR; default ./.trainable/engine)",
    )
    .option("--json", "machine-readable output on stdout")
    .option("--debug", "print stack traces on errors")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  const ctx = () => {
    context ??= new CliContext(io, program.opts<GlobalOptions>());
    return context;
  };
  registerTrain(program, ctx);
  registerRun(program, ctx);
  registerResume(program, ctx);
  registerServe(program, ctx);
  registerCheckpoints(program, ctx);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }

  try {
    await program.parseAsync(argv, { from: "user" });
    return context?.exitCode ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      )
        return EXIT.ok;
      if (error.exitCode === 0) return EXIT.ok;
      return EXIT.usage; // commander already printed a one-line message
    }
    context?.progress.done();
    const debug = program.opts<GlobalOptions>().debug;
    if (debug && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    const prefix = TrainableError.isInstance(error) ? `error [${error.code}]` : "error";
    io.stderr.write(`trainable: ${prefix}: ${oneLine(error)}\n`);
    return TrainableError.isInstance(error) && error.code === "VALIDATION"
      ? EXIT.usage
      : EXIT.failure;
  } finally {
    await context?.close();
  }
}
