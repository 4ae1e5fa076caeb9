import type { Id } from "@trainable/core";
import { createPluginApp, servePlugin } from "@trainable/plugin-runtime";
import type { CliContext } from "../../context.js";
import { isUiPageRequest } from "../../dashboard/open-dashboard.js";
import { openEngine } from "../../engine.js";
import { asFlagError, parseJsonOrFile } from "../../parse-flags.js";
import {
  parsePort,
  resolveTokens,
  TOKEN_ENV,
  tokenError,
  untilStopped,
} from "../../server-flags.js";
import { mountUi } from "./mount-ui.js";
import { requireTokenOffLoopback } from "./require-token-off-loopback.js";

/** The flags of `trainable serve`, as commander parsed them. */
export interface ServeFlags {
  plugin: string;
  port: string;
  host: string;
  instance?: Id;
  config?: string;
  token?: string[];
  publicRun?: boolean;
  checkOutput?: boolean;
  insecure?: boolean;
  ui: boolean;
}

type Engine = Awaited<ReturnType<typeof openEngine>>["engine"];

/** `--instance` (with `--config`, else its current config): created or updated before serving. */
async function upsertInstance(
  c: CliContext,
  engine: Engine,
  options: { id: Id; plugin: string; config: string | undefined },
): Promise<void> {
  const config =
    options.config === undefined
      ? (engine.getInstance(options.id)?.config ?? {})
      : parseJsonOrFile(options.config, "--config", c.io.cwd);
  await engine
    .createInstance({ id: options.id, plugin: options.plugin, config, replace: true })
    .catch((error: unknown) => {
      throw options.config === undefined ? error : asFlagError(error, "--config");
    });
}

/** Runs `trainable serve` until it is stopped (Ctrl-C). */
export async function runServe(c: CliContext, o: ServeFlags): Promise<void> {
  const port = parsePort(o.port);
  // Checked before anything is opened or created: a refused server changes nothing.
  const { tokens, source } = resolveTokens(o.token, c.io.env[TOKEN_ENV]);
  const loopback = requireTokenOffLoopback({
    host: o.host,
    token: tokens !== undefined,
    insecure: o.insecure === true,
  });
  const { engine, plugin } = await openEngine(c, o.plugin);
  // Built (and its token checked) before --instance changes anything.
  let app: ReturnType<typeof createPluginApp>;
  try {
    app = createPluginApp(plugin.service, {
      store: engine.store,
      cache: engine.cache,
      instances: engine.instances,
      dataDir: c.dataDir,
      checkOutput: o.checkOutput === true,
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
  const ui =
    o.ui &&
    (await mountUi(c, app, { host: o.host, token: tokens !== undefined, signal: closing.signal }));
  if (o.instance) {
    await upsertInstance(c, engine, { id: o.instance, plugin: plugin.name, config: o.config });
  }
  const served = await servePlugin(app, { port, hostname: o.host, insecure: o.insecure === true });
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
}
