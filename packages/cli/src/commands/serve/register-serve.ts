import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { idFlag } from "../../id-flag.js";
import { collectTokens, TOKEN_ENV } from "../../server-flags.js";
import { runServe, type ServeFlags } from "./run-serve.js";

/** `trainable serve`: the plugin's HTTP app (POST /run, /train, /getTrainingParameters, GET /health). */
export function registerServe(program: Command, ctx: () => CliContext): void {
  program
    .command("serve")
    .description(
      "serve a plugin over HTTP: POST /run (and its alias), /train, /getTrainingParameters, GET /health",
    )
    .requiredOption(
      "--plugin <module>",
      "plugin module: a path or package whose default export is the plugin service",
    )
    .option("--port <n>", "TCP port (0 picks a free one)", "8080")
    .option(
      "--host <address>",
      "interface to listen on; anything but loopback (127.0.0.0/8, ::1, localhost) needs --token",
      "127.0.0.1",
    )
    .option(
      "--token <secret>",
      `bearer token every route but GET /health requires (repeat to accept several while rotating; env ${TOKEN_ENV}, comma-separated — prefer it: flags show in ps)`,
      collectTokens,
    )
    .option(
      "--public-run",
      "with a token: let POST /run and its alias through without it (public inference)",
    )
    .option(
      "--check-output",
      "check every /run answer against the plugin's output schema before sending it (a plugin bug answers 500 instead of a malformed answer; costs some throughput)",
    )
    .option(
      "--insecure",
      "allow a non-loopback --host without a token (DANGEROUS: anyone who reaches the port can train, cancel trainings and move default)",
    )
    .option(
      "--no-ui",
      "do not serve the dashboard at /ui (its data needs the token, as every route)",
    )
    .option(
      "--instance <id>",
      "create (or update) this plugin instance before serving",
      idFlag("--instance"),
    )
    .option("--config <json|file>", "config of --instance")
    .action((o: ServeFlags) => runServe(ctx(), o));
}
