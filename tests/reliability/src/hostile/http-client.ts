import http from "node:http";

export interface SentRequest {
  method: string;
  /** Path and query, already encoded. */
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Send the body with `Transfer-Encoding: chunked` (no Content-Length). */
  chunked?: boolean;
}

export interface Answer {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let previous = "";

/**
 * One HTTP request on a keep-alive agent. Resolves with the response even when the server
 * answered before reading the whole body (a 413) and the rest of the upload failed.
 */
export function send(base: string, request: SentRequest): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const body =
      request.body === undefined
        ? undefined
        : Buffer.isBuffer(request.body)
          ? request.body
          : Buffer.from(request.body);
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: {
          ...(body && !request.chunked ? { "content-length": String(body.length) } : {}),
          ...(body ? { "content-type": "application/json" } : {}),
          ...request.headers,
        },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", (error) => {
      if (!answered) {
        (error as Error).message +=
          ` (reused socket: ${req.reusedSocket}; previous on this socket: ${(req.socket as unknown as { last?: string })?.last}; previous: ${previous})`;
        reject(error);
      }
    });
    const me = `${request.method} ${request.path} ${request.chunked ? "chunked " : ""}${String(request.body ?? "").length}B ${String(request.body ?? "").slice(0, 60)}`;
    req.on("finish", () => {
      previous = me;
    });
    req.on("socket", (socket) => {
      const prior = (socket as unknown as { last?: string }).last;
      (socket as unknown as { last?: string }).last = `${me} <- ${prior?.slice(0, 150)}`;
    });
    if (body && request.chunked) {
      // Several chunks, so the server sees a streamed body.
      const step = Math.max(1, Math.ceil(body.length / 4));
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      req.end();
    } else {
      req.end(body);
    }
  });
}

export function closeAgent(): void {
  agent.destroy();
}
