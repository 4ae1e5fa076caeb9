import { ValidationError, validateId } from "@trainable/core";
import { createPluginApp, isLoopbackHostname, servePlugin } from "@trainable/plugin-runtime";
import type { Command } from "commander";
import type { Hono } from "hono";
import type { CliContext } from "../context.js";
import { isUiPageRequest, openDashboard } from "../dashboard/open-dashboard.js";
import { openEngine } from "../engine.js";
import { asFlagError, parseJsonOrFile } from "../parse-flags.js";
import {
  collectTokens,
  parsePort,
  resolveTokens,
  TOKEN_ENV,
  tokenError,
  untilStopped,
} from "../server-flags.js";

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
      "--insecure",
      "allow a non-loopback --host without a token (DANGEROUS: anyone who reaches the port can train, cancel trainings and move default)",
    )
    .option(
      "--no-ui",
      "do not serve the dashboard at /ui (its data needs the token, as every route)",
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
        ui: boolean;
      }) => {
        const c = ctx();
        const port = parsePort(o.port);
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
            ...(tokens
              ? {
                  token: tokens,
                  protectRun: o.publicRun !== true,
                  ...(o.ui ? { publicRequests: isUiPageRequest } : {}),
                }
              : {}),
          });
        } catch (error) {
          throw source ? tokenError(error, source) : error;
        }
        const closing = new AbortController();
        const ui = o.ui && (await mountUi(c, app, o.host, tokens !== undefined, closing.signal));
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
            ...(ui ? { dashboard: `${served.url}/ui/` } : {}),
          },
          () =>
            `serving ${plugin.name} on ${served.url} (${auth}; Ctrl-C to stop)${ui ? `\ndashboard on ${served.url}/ui/` : ""}`,
        );
        await untilStopped(c, served, () => closing.abort());
      },
    );
}

/**
 * The dashboard at `/ui/`, behind this server's token (checked before the request reaches
 * it), on the local engine's trainings. A build without the page serves without it (warned).
 */
async function mountUi(
  c: CliContext,
  app: Hono,
  host: string,
  token: boolean,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const dashboard = await openDashboard(c, {
      queue: false,
      signal,
      access: { host, ...(token ? { checkedOutside: true } : {}) },
    });
    app.get("/ui", (ctx) => ctx.redirect("/ui/", 308));
    app.mount("/ui", dashboard.fetch);
    return true;
  } catch (error) {
    c.io.stderr.write(
      `trainable: warning: serving without the dashboard at /ui: ${error instanceof Error ? error.message : error}\n`,
    );
    return false;
  }
}
