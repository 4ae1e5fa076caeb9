import { TrainableError } from "@trainable/core";
import { Command, CommanderError } from "commander";
import { registerCheckpoints } from "./commands/checkpoints/register-checkpoints.js";
import { registerDashboard } from "./commands/dashboard.js";
import { registerResume } from "./commands/resume.js";
import { registerRun } from "./commands/run.js";
import { registerServe } from "./commands/serve/register-serve.js";
import { registerCancel, registerTasks } from "./commands/tasks.js";
import { registerTrain } from "./commands/train.js";
import { registerWorker } from "./commands/worker.js";
import { CliContext, type GlobalOptions } from "./context.js";
import { type CliIo, processIo } from "./io.js";
import { toUserError } from "./user-error.js";

/** Replaced by the build (tsup `define`) with the version in package.json. */
declare const __TRAINABLE_CLI_VERSION__: string | undefined;

/** This package's version, from its package.json (injected at build time). */
export const CLI_VERSION: string =
  typeof __TRAINABLE_CLI_VERSION__ === "string" ? __TRAINABLE_CLI_VERSION__ : "0.0.0-dev";

/**
 * Exit codes: 0 success, 1 failure, 2 bad usage (unknown command or flag, bad flag value),
 * 130 interrupted by Ctrl-C (`checkpoints import`: see `withInterrupt`).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

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
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Usage errors are printed below, in the same one-line style as every other error.
      outputError: () => {},
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
  registerWorker(program, ctx);
  registerTasks(program, ctx);
  registerCancel(program, ctx);
  registerDashboard(program, ctx);
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(program.configureOutput());
    for (const sub of cmd.commands) sub.exitOverride().configureOutput(program.configureOutput());
  }

  const reportError = (error: unknown): void => {
    const { code, message } = toUserError(error);
    const json = program.opts<GlobalOptions>().json ?? argv.includes("--json");
    if (json) io.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
    const hint = error instanceof CommanderError ? " (see --help)" : "";
    io.stderr.write(`trainable: error [${code}]: ${message}${hint}\n`);
  };

  try {
    await program.parseAsync(argv, { from: "user" });
    return context?.exitCode ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok; // --help, --version
      if (error.code === "commander.help") {
        // `trainable` (or `trainable checkpoints`) without a command: the help went to
        // stderr; a script that forgot the command must not see success.
        if (program.opts<GlobalOptions>().json ?? argv.includes("--json")) {
          reportError(new CommanderError(2, error.code, "missing command"));
        }
        return EXIT.usage;
      }
      reportError(error);
      return EXIT.usage;
    }
    context?.progress.done();
    const debug = program.opts<GlobalOptions>().debug;
    if (debug && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    reportError(error);
    // A command may have chosen its failure's code (130: interrupted by Ctrl-C).
    if (context?.exitCode) return context.exitCode;
    return TrainableError.isInstance(error) && error.code === "VALIDATION"
      ? EXIT.usage
      : EXIT.failure;
  } finally {
    await context?.close();
  }
}
