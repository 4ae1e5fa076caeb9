import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { checkOptionsObject, ValidationError } from "@trainable/core";
import type { Hono } from "hono";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { checkPluginService, looksLikePluginService } from "../service/check-plugin-service.js";
import type { PluginService } from "../service/plugin-service.js";
import { pluginAppRequiresToken } from "./app-state.js";
import { createPluginApp } from "./create-plugin-app.js";
import { isLoopbackHostname } from "./loopback.js";
import type { PluginAppOptions } from "./plugin-app-options.js";
import { parseTokens } from "./require-token.js";

export interface ServePluginOptions extends Partial<PluginAppOptions> {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /**
   * Interface to listen on. Default `127.0.0.1` (local only); `0.0.0.0` for all. Anything but
   * a loopback address (127.0.0.0/8, `::1`, `localhost`) needs a `token` — or `insecure`.
   */
  hostname?: string;
  /**
   * Listen on a non-loopback address without a token. DANGEROUS: anyone who can reach the
   * port can train any instance, move its `default`, cancel trainings and (with
   * `allowInstanceRegistration`) register instances. For a server behind a proxy that
   * authenticates, or a network you fully trust. Default false.
   */
  insecure?: boolean;
  /** How long `close()` waits for in-flight requests before cutting connections. Default 10 s. */
  shutdownTimeoutMs?: number;
}

export interface ServedPlugin {
  /** Base URL, e.g. `http://127.0.0.1:51234`. */
  url: string;
  port: number;
  server: Server;
  /** Number of requests being handled now. */
  readonly inFlight: number;
  /**
   * Graceful shutdown: stops accepting connections, lets in-flight requests finish (up to
   * `shutdownTimeoutMs`), then closes every connection. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Serves a plugin app (or a plugin service, building the app from `options`) on Node with
 * `@hono/node-server`. Resolves once the server is listening.
 */
export async function servePlugin(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  target: Hono | PluginService<any, any> | LocalPluginClient,
  options: ServePluginOptions = {},
): Promise<ServedPlugin> {
  checkPluginService(target, {
    call: "servePlugin",
    field: "target",
    accepts: "an app from createPluginApp(…) or a plugin service instance (e.g. new MyPlugin())",
    isAccepted: (v) =>
      isHono(v) || (v as { kind?: unknown }).kind === "in-process" || looksLikePluginService(v),
  });
  checkOptionsObject(options, {
    component: "runtime",
    call: "servePlugin",
    expected: "({ port?, hostname?, token?, … })",
  });
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw ValidationError.forField("runtime", "port", "must be an integer from 0 to 65535");
  }
  const hostname = options.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname.trim() === "") {
    throw ValidationError.forField("runtime", "hostname", "must be a non-empty string");
  }
  let authenticated: boolean | undefined;
  if (isHono(target)) {
    if (options.token !== undefined) {
      throw ValidationError.forField(
        "runtime",
        "token",
        "cannot be added to an app that is already built: pass it to createPluginApp instead",
      );
    }
    authenticated = pluginAppRequiresToken(target);
  } else {
    authenticated = options.token !== undefined && parseTokens(options.token).length > 0;
  }
  if (!authenticated && options.insecure !== true && !isLoopbackHostname(hostname)) {
    throw refuseInsecure(hostname, authenticated === undefined);
  }
  const app = isHono(target) ? target : createPluginApp(target, options as PluginAppOptions);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;

  let inFlight = 0;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;

  const { server, info } = await new Promise<{ server: Server; info: AddressInfo }>(
    (resolve, reject) => {
      const s = serve({ fetch: app.fetch, port, hostname }, (address) =>
        resolve({ server: s as Server, info: address }),
      ) as Server;
      s.once("error", reject);
    },
  );

  // One listener function for every response (a response closes once): nothing is made per
  // request for the count.
  const responseClosed = () => {
    inFlight--;
    if (closing) {
      // A kept-alive connection that just went idle must not hold the shutdown.
      setImmediate(() => server.closeIdleConnections());
      if (inFlight === 0) drained?.();
    }
  };
  server.on("request", (_req, res) => {
    inFlight++;
    res.on("close", responseClosed);
  });

  const host = info.address.includes(":") ? `[${info.address}]` : info.address;
  return {
    url: `http://${host}:${info.port}`,
    port: info.port,
    server,
    get inFlight() {
      return inFlight;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const closed = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        const idle = new Promise<void>((done) => {
          drained = done;
          if (inFlight === 0) done();
        });
        const timer = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
        timer.unref();
        void idle
          .then(() => {
            // Every response is closed: what is left are idle keep-alive sockets, and sockets
            // whose client went away mid-request (Node does not count those as idle).
            server.closeIdleConnections();
            if (inFlight === 0) server.closeAllConnections();
            return closed;
          })
          .then(() => {
            clearTimeout(timer);
            resolve();
          });
      });
      return closing;
    },
  };
}

function refuseInsecure(hostname: string, unknownApp: boolean): ValidationError {
  const why = unknownApp
    ? "this app was not built by createPluginApp, so servePlugin cannot tell whether it checks a token: build it with createPluginApp({ token })"
    : "set a token: the token option (trainable serve: --token <secret> or the TRAINABLE_TOKEN environment variable)";
  const message = `a token is required to listen on ${hostname}, which is not a loopback address (anyone who can reach the port could train, cancel trainings and register instances): ${why}, or pass insecure: true (trainable serve: --insecure) to serve without one, which is dangerous`;
  return new ValidationError(`[runtime] Refusing to serve: ${message}`, {
    issues: [{ path: "token", message }],
  });
}

function isHono(value: unknown): value is Hono {
  return (
    value != null &&
    typeof value === "object" &&
    typeof (value as Hono).fetch === "function" &&
    typeof (value as Hono).route === "function"
  );
}
