/**
 * A fault-injecting HTTP proxy in front of an S3 server. Requests are forwarded unchanged
 * (headers included, so SigV4 signatures stay valid) unless a rule matches:
 *
 * - `status`: answer an S3-style XML error (503 `ServiceUnavailable`, 500 `InternalError`…);
 * - `cutUpload`: forward, but destroy the connection once `afterBytes` of the request body passed;
 * - `cutDownload`: forward, but destroy the connection once `afterBytes` of the response body passed;
 * - `stall`: accept the request and never answer (until the proxy closes);
 * - `stallDownload`: forward, but stop sending the response body (connection left open) once
 *   `afterBytes` of it passed.
 *
 * Each rule applies `times` times (Infinity: until removed). `refuse()` stops listening and
 * drops every connection (the server is "stopped": connections are refused); `accept()`
 * listens again on the same port.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind = "status" | "cutUpload" | "cutDownload" | "stall" | "stallDownload";

export interface FaultRule {
  kind: FaultKind;
  /** Which requests it applies to (default: all). */
  match?: (request: { method: string; url: string }) => boolean;
  /** For `status`. */
  status?: number;
  /** For the cuts: bytes let through before the connection is destroyed. */
  afterBytes?: number;
  times: number;
}

export interface ProxyLogEntry {
  at: number;
  method: string;
  url: string;
  fault?: FaultKind;
  status?: number;
}

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "upgrade", "expect", "te"];
const S3_CODES: Record<number, string> = {
  500: "InternalError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout",
};

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  readonly #target: URL;
  readonly #rules: FaultRule[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #upstream = new http.Agent({ keepAlive: true, maxSockets: 32 });
  #server: http.Server;
  #port = 0;

  constructor(target: string) {
    this.#target = new URL(target);
    this.#server = this.#createServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Requests that got a given fault. */
  faults(kind?: FaultKind): ProxyLogEntry[] {
    return this.log.filter(
      (e) => e.fault !== undefined && (kind === undefined || e.fault === kind),
    );
  }

  add(rule: FaultRule): FaultRule {
    this.#rules.push(rule);
    return rule;
  }

  clear(): void {
    this.#rules.length = 0;
  }

  async start(): Promise<void> {
    await this.#listen(0);
  }

  /** Stops listening and drops every connection: clients get ECONNREFUSED / ECONNRESET. */
  async refuse(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#server = this.#createServer();
  }

  /** Listens again, on the same port. */
  async accept(): Promise<void> {
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    this.clear();
    if (this.#server.listening) await this.refuse();
    for (const socket of this.#sockets) socket.destroy();
    this.#upstream.destroy();
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #createServer(): http.Server {
    const server = http.createServer((req, res) => this.#handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    return server;
  }

  #take(method: string, url: string): FaultRule | undefined {
    const rule = this.#rules.find((r) => r.times > 0 && (r.match?.({ method, url }) ?? true));
    if (rule) rule.times -= 1;
    return rule;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const rule = this.#take(method, url);
    const entry: ProxyLogEntry = { at: Date.now(), method, url, fault: rule?.kind };
    this.log.push(entry);

    if (rule?.kind === "stall") {
      req.resume();
      return;
    }
    if (rule?.kind === "status") {
      const status = rule.status ?? 503;
      entry.status = status;
      req.resume();
      req.on("end", () => {
        const body =
          method === "HEAD"
            ? ""
            : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${S3_CODES[status] ?? "InternalError"}</Code><Message>injected by the fault proxy</Message></Error>`;
        res.writeHead(status, {
          "content-type": "application/xml",
          "content-length": Buffer.byteLength(body),
        });
        res.end(body);
      });
      return;
    }

    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const upstream = http.request({
      agent: this.#upstream,
      host: this.#target.hostname,
      port: this.#target.port,
      method,
      path: url,
      headers,
    });
    const cut = () => {
      upstream.destroy();
      req.socket.destroy();
    };
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    upstream.on("response", (up) => {
      entry.status = up.statusCode;
      const out = { ...up.headers };
      for (const h of HOP_BY_HOP) delete out[h];
      res.writeHead(up.statusCode ?? 502, out);
      if (rule?.kind === "cutDownload" || rule?.kind === "stallDownload") {
        const stall = rule.kind === "stallDownload";
        let passed = 0;
        const limit = rule.afterBytes ?? 0;
        up.on("data", (chunk: Buffer) => {
          if (passed >= limit) return;
          const room = limit - passed;
          passed += chunk.length;
          if (chunk.length < room) {
            res.write(chunk);
            return;
          }
          res.write(chunk.subarray(0, room), () => {
            if (!stall) cut();
          });
          up.pause();
        });
        up.on("end", () => {
          if (passed < limit) res.end();
        });
      } else {
        up.pipe(res);
      }
    });
    if (rule?.kind === "cutUpload") {
      let passed = 0;
      const limit = rule.afterBytes ?? 0;
      req.on("data", (chunk: Buffer) => {
        if (passed > limit) return;
        passed += chunk.length;
        if (passed > limit) {
          upstream.write(chunk.subarray(0, chunk.length - (passed - limit)));
          cut();
          return;
        }
        upstream.write(chunk);
      });
      req.on("end", () => {
        if (passed <= limit) upstream.end();
      });
    } else {
      req.pipe(upstream);
    }
    req.on("error", () => upstream.destroy());
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }
}
