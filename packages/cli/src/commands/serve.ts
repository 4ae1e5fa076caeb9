import { ValidationError, validateId } from "@trainable/core";
import { createPluginApp, isLoopbackHostname, servePlugin } from "@trainable/plugin-runtime";
import type { Command } from "commander";
import { type CliContext, parseIntFlag } from "../context.js";
import { openEngine } from "../engine.js";
import { asFlagError, parseJsonOrFile } from "../parse-flags.js";

/** Where `--token` values come from when the flag is not given. */
export const TOKEN_ENV = "TRAINABLE_TOKEN";

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
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      "--public-run",
      "with a token: let POST /run and its alias through without it (public inference)",
    )
    .option(
      "--insecure",
      "allow a non-loopback --host without a token (DANGEROUS: anyone who reaches the port can train, cancel trainings and move default)",
    )
    .option("--instance <id>", "create (or update) this plugin instance before serving")
    .option("--config <json|file>", "config of --instance")
    .action(
      async (o: {
        plugin: string;
        port: string;
        host: string;
        instance?: string;
        config?: string;
        token?: string[];
        publicRun?: boolean;
        insecure?: boolean;
      }) => {
        const c = ctx();
        const port = parseIntFlag(o.port, "--port");
        if (port > 65535)
          throw ValidationError.forField("cli", "--port", `must be at most 65535, got ${port}`);
        // Checked before anything is opened or created: a refused server changes nothing.
        const { tokens, source } = resolveTokens(o.token, c.io.env[TOKEN_ENV]);
        // The runtime's rule, checked here first so a refused `serve` opens and creates nothing.
        const loopback = isLoopbackHostname(o.host);
        if (!tokens && !loopback && !o.insecure) {
          const problem = `is required to listen on ${o.host}, which is not a loopback address (anyone who can reach the port could train, cancel trainings and register instances): pass --token <secret> or set ${TOKEN_ENV} (e.g. ${TOKEN_ENV}=$(openssl rand -hex 32)), or add --insecure to serve without one (dangerous)`;
          throw new ValidationError(`[cli] --token ${problem}`, {
            issues: [{ path: "--token", message: problem }],
          });
        }
        const { engine, plugin } = await openEngine(c, o.plugin);
        // Built (and its token checked) before --instance changes anything.
        let app: ReturnType<typeof createPluginApp>;
        try {
          app = createPluginApp(plugin.service, {
            store: engine.store,
            cache: engine.cache,
            instances: engine.instances,
            dataDir: c.dataDir,
            ...(tokens ? { token: tokens, protectRun: o.publicRun !== true } : {}),
          });
        } catch (error) {
          throw source ? tokenError(error, source) : error;
        }
        if (o.instance) {
          const id = validateId(o.instance, "--instance");
          const config =
            o.config === undefined
              ? (engine.getInstance(id)?.config ?? {})
              : parseJsonOrFile(o.config, "--config", c.io.cwd);
          await engine
            .createInstance({ id, plugin: plugin.name, config, replace: true })
            .catch((error: unknown) => {
              throw o.config === undefined ? error : asFlagError(error, "--config");
            });
        }
        const served = await servePlugin(app, {
          port,
          hostname: o.host,
          insecure: o.insecure === true,
        });
        if (!tokens && !loopback) {
          c.io.stderr.write(
            `trainable: warning: serving on ${o.host} without a token (--insecure): anyone who can reach port ${served.port} can train, cancel trainings and move checkpoints\n`,
          );
        }
        const auth = tokens
          ? o.publicRun
            ? "token required (POST /run and its alias are public)"
            : "token required"
          : "no token";
        c.print(
          {
            url: served.url,
            plugin: plugin.name,
            token: tokens !== undefined,
            publicRun: tokens === undefined || o.publicRun === true,
          },
          () => `serving ${plugin.name} on ${served.url} (${auth}; Ctrl-C to stop)`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.removeListener("SIGINT", stop);
            process.removeListener("SIGTERM", stop);
            c.progress.message("shutting down (finishing in-flight requests)…");
            void served.close().then(resolve);
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      },
    );
}

/**
 * Re-words the runtime's refusal of a token to name where it came from (`--token`, the n-th
 * `--token`, or `TRAINABLE_TOKEN` and its n-th item) — never the token itself.
 */
function tokenError(error: unknown, source: string): unknown {
  const issue = ValidationError.isInstance(error) ? error.issues[0] : undefined;
  const at = issue && /^token(?:\[(\d+)\])?$/.exec(issue.path);
  if (!issue || !at) return error;
  const where =
    at[1] === undefined
      ? source
      : `${source} (${source === TOKEN_ENV ? "item" : "flag"} ${Number(at[1]) + 1})`;
  return new ValidationError(`[cli] Invalid ${where}: ${issue.message}`, {
    cause: error,
    issues: [{ path: source, message: issue.message }],
  });
}

/**
 * The accepted tokens: the `--token` flags, else `TRAINABLE_TOKEN` (comma-separated), else
 * none. Set-but-empty is an error, not "no token": a server meant to be protected must not
 * start open because a variable came out empty.
 */
function resolveTokens(
  flags: string[] | undefined,
  env: string | undefined,
): { tokens?: string[]; source?: string } {
  if (flags?.length) {
    if (flags.some((t) => t.trim() === "")) {
      throw ValidationError.forField("cli", "--token", "must not be empty");
    }
    return { tokens: flags, source: "--token" };
  }
  if (env === undefined) return {};
  const tokens = env.split(",").map((t) => t.trim());
  if (tokens.some((t) => t === "")) {
    throw ValidationError.forField(
      "cli",
      TOKEN_ENV,
      "is set but empty (or has an empty item): set a token, or unset the variable",
    );
  }
  return { tokens, source: TOKEN_ENV };
}
