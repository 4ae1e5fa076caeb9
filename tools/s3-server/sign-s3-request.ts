import { createHash, createHmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface S3RequestOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  bucket: string;
  key?: string;
  query?: Record<string, string>;
  body?: Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface S3Response {
  status: number;
  body: string;
}

const encode = (value: string) =>
  encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) =>
  createHmac("sha256", key).update(data).digest();

/**
 * One path-style S3 request signed with AWS Signature V4, on `node:http` only, so the test
 * setup needs no AWS SDK (packages that use the S3 test server need not depend on it).
 */
export async function signedS3Request(options: S3RequestOptions): Promise<S3Response> {
  const url = new URL(options.endpoint);
  const path = `/${encode(options.bucket)}${options.key === undefined ? "" : `/${options.key.split("/").map(encode).join("/")}`}`;
  const query = Object.entries(options.query ?? {})
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const body = options.body ?? Buffer.alloc(0);
  const now = new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": sha256(body),
    "x-amz-date": amzDate,
    ...Object.fromEntries(
      Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    ),
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    options.method,
    path,
    query,
    ...names.map((n) => `${n}:${String(headers[n]).trim()}`),
    "",
    names.join(";"),
    headers["x-amz-content-sha256"],
  ].join("\n");
  const scope = `${day}/${options.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  let key: Buffer = hmac(`AWS4${options.secretAccessKey}`, day);
  for (const part of [options.region, "s3", "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${options.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  headers["content-length"] = String(body.byteLength);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return await new Promise<S3Response>((resolve, reject) => {
    const req = send(
      new URL(`${path}${query ? `?${query}` : ""}`, url),
      { method: options.method, headers, timeout: options.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`timed out after ${options.timeoutMs ?? 30_000} ms`)),
    );
    req.on("error", reject);
    req.end(body);
  });
}
