import { isLoopbackHostname, parseTokens, servePlugin } from "@trainable/plugin-runtime";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { parseAllowedHost } from "../dashboard/host-rule.js";
import { openDashboard } from "../dashboard/open-dashboard.js";
import { QUEUE_ENV } from "../queue.js";
import {
  collectTokens,
  parsePort,
  resolveTokens,
  TOKEN_ENV,
  tokenError,
  untilStopped,
} from "../server-flags.js";

interface DashboardFlags {
  port: string;
  host: string;
  token?: string[];
  allowedHost?: string[];
  queue?: string;
}

/** `trainable dashboard`: the web page of instances, trainings and checkpoints. */
export function registerDashboard(program: Command, ctx: () => CliContext): void {
  program
    .command("dashboard")
    .description(
      "a web page of plugin instances, trainings (live progress, cancel) and checkpoints (metrics chart, set default, delete, prune)",
    )
    .option("--port <n>", "TCP port (0 picks a free one)", "8090")
    .option(
      "--host <address>",
      "interface to listen on; beyond loopback (127.0.0.0/8, ::1, localhost) the page is read-only unless a --token is set",
      "127.0.0.1",
    )
    .option(
      "--token <secret>",
      `bearer token the page's data and actions require (repeatable; env ${TOKEN_ENV}, comma-separated — prefer it: flags show in ps)`,
      collectTokens,
    )
    .option(
      "--allowed-host <name>",
      "a host name the page may be opened under without a token, besides loopback names and IP addresses (repeatable; others are refused, against DNS rebinding)",
      parseAllowedHost,
    )
    .option(
      "--queue <url>",
      `show the trainings of a distributed queue (redis://HOST:PORT/DB[?queue=NAME]; env ${QUEUE_ENV}) instead of the local engine's --data-dir`,
    )
    .action(async (o: DashboardFlags) => {
      const c = ctx();
      const port = parsePort(o.port);
      const { tokens, source } = resolveTokens(o.token, c.io.env[TOKEN_ENV]);
      try {
        if (tokens) parseTokens(tokens);
      } catch (error) {
        throw source ? tokenError(error, source) : error;
      }
      const closing = new AbortController();
      const app = await openDashboard(c, {
        queue: o.queue,
        signal: closing.signal,
        access: {
          host: o.host,
          ...(tokens ? { tokens } : {}),
          ...(o.allowedHost ? { allowedHosts: o.allowedHost } : {}),
        },
      });
      // The dashboard checks its own access (token, loopback, read-only): servePlugin's rule
      // for plugin apps does not apply to it.
      const served = await servePlugin(app, { port, hostname: o.host, insecure: true });
      const loopback = isLoopbackHostname(o.host);
      if (!tokens && !loopback) {
        c.io.stderr.write(
          `trainable: warning: the dashboard on ${o.host} has no token: it is read-only, and anyone who can reach port ${served.port} can see its instances, trainings and checkpoints (not their configs); it answers only pages opened by IP address${o.allowedHost ? ` or as ${o.allowedHost.join(", ")}` : " (add --allowed-host NAME to open it by name)"}\n`,
        );
      }
      const mode = tokens ? "token required" : loopback ? "this machine only" : "read-only";
      c.print(
        { url: `${served.url}/`, token: tokens !== undefined, readOnly: !tokens && !loopback },
        () => `dashboard on ${served.url}/ (${mode}; Ctrl-C to stop)`,
      );
      await untilStopped(c, served, () => closing.abort());
    });
}
