/**
 * Vitest `globalSetup` giving integration tests a real S3 server.
 *
 * - With `TRAINABLE_TEST_S3_ENDPOINT` set, uses that server (`TRAINABLE_TEST_S3_ACCESS_KEY`,
 *   `TRAINABLE_TEST_S3_SECRET_KEY`, `TRAINABLE_TEST_S3_REGION`, default `us-east-1`).
 * - Otherwise runs `scripts/s3/start-radosgw.sh ${TRAINABLE_TEST_S3_PORT:-7480}` under
 *   `flock` (parallel vitest processes started by turbo wait for one another; the script is
 *   idempotent, reuses a running server and installs radosgw with apt when missing).
 *
 * It then makes sure the bucket exists (`TRAINABLE_TEST_S3_BUCKET`, default
 * `trainable-test-<project>`), picks a key prefix unique to this run, and hands both to tests
 * through `project.provide("s3", …)` (read them with `getS3TestConfig()`) and through
 * `TRAINABLE_TEST_S3_*` environment variables (inherited by workers and child processes).
 * When no server can be had, setup throws: S3 tests fail loudly, never skip.
 *
 * Teardown deletes the run's prefix. It never stops the server (it may serve other runs);
 * stop it with `scripts/s3/stop-radosgw.sh`.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import type { S3TestConfig } from "./s3-test-config.js";
import { signedS3Request } from "./sign-s3-request.js";

type Server = Omit<S3TestConfig, "bucket" | "prefix">;

const log = (message: string) => process.stderr.write(`[s3-server] ${message}\n`);

function serverFromEnv(): Server | undefined {
  const endpoint = process.env.TRAINABLE_TEST_S3_ENDPOINT;
  if (!endpoint) return undefined;
  const accessKeyId = process.env.TRAINABLE_TEST_S3_ACCESS_KEY;
  const secretAccessKey = process.env.TRAINABLE_TEST_S3_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      "[s3-server] TRAINABLE_TEST_S3_ENDPOINT is set but TRAINABLE_TEST_S3_ACCESS_KEY / TRAINABLE_TEST_S3_SECRET_KEY are not",
    );
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: process.env.TRAINABLE_TEST_S3_REGION || "us-east-1",
    forcePathStyle: true,
  };
}

async function startRadosgw(): Promise<Server> {
  const port = process.env.TRAINABLE_TEST_S3_PORT || "7480";
  if (!/^\d{2,5}$/.test(port)) throw new Error(`[s3-server] Bad TRAINABLE_TEST_S3_PORT "${port}"`);
  const script = fileURLToPath(new URL("../../scripts/s3/start-radosgw.sh", import.meta.url));
  const lock = join(tmpdir(), `trainable-radosgw-${port}.lock`);
  const hasFlock = spawnSync("flock", ["--version"], { stdio: "ignore" }).status === 0;
  const [command, args] = hasFlock
    ? ["flock", ["-w", "900", lock, "bash", script, port]]
    : ["bash", [script, port]];
  if (!hasFlock) log("flock not found: starting radosgw without a lock");
  const started = Date.now();
  const { code, stdout, stderr } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const child = spawn(command, args as string[], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let streaming = false;
    // Quiet when the server is already up; after 3 s (a cold start, maybe an apt install) show progress.
    const timer = setTimeout(() => {
      streaming = true;
      log(`starting radosgw on port ${port} (a first start installs it with apt: ~1 min)…`);
      process.stderr.write(err);
    }, 3_000);
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
      if (streaming) process.stderr.write(c);
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, stdout: out, stderr: err });
    });
  });
  if (code !== 0) {
    const tail = stderr.trim().split("\n").slice(-25).join("\n");
    throw new Error(
      `[s3-server] Could not start the S3 test server: "scripts/s3/start-radosgw.sh ${port}" exited with ${code}.\n${tail}\n` +
        "Fix the error above, or point the tests at another S3 server with TRAINABLE_TEST_S3_ENDPOINT, " +
        "TRAINABLE_TEST_S3_ACCESS_KEY, TRAINABLE_TEST_S3_SECRET_KEY and TRAINABLE_TEST_S3_REGION.",
    );
  }
  const values: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^(S3_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, "$2");
  }
  const { S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY } = values;
  if (!S3_ENDPOINT || !S3_ACCESS_KEY || !S3_SECRET_KEY) {
    throw new Error(
      "[s3-server] start-radosgw.sh succeeded but did not print S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY",
    );
  }
  if (Date.now() - started > 3_000)
    log(`radosgw ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return {
    endpoint: S3_ENDPOINT,
    accessKeyId: S3_ACCESS_KEY,
    secretAccessKey: S3_SECRET_KEY,
    region: values.S3_REGION || "us-east-1",
    forcePathStyle: values.S3_FORCE_PATH_STYLE !== "false",
  };
}

function bucketFor(project: TestProject): string {
  const fromEnv = process.env.TRAINABLE_TEST_S3_BUCKET;
  if (fromEnv) return fromEnv;
  const name = (project.name || basename(project.config.root))
    .toLowerCase()
    .replace(/^@/, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const bucket = `trainable-test-${name || "default"}`;
  if (bucket.length <= 63) return bucket;
  return `${bucket.slice(0, 50)}-${createHash("sha256").update(bucket).digest("hex").slice(0, 12)}`;
}

async function ensureBucket(server: Server, bucket: string): Promise<void> {
  const where = `bucket "${bucket}" at ${server.endpoint}`;
  let head: { status: number; body: string };
  try {
    head = await signedS3Request({ ...server, method: "HEAD", bucket });
  } catch (error) {
    throw new Error(
      `[s3-server] Cannot reach the S3 server for ${where}: ${(error as Error).message}`,
    );
  }
  if (head.status === 200) return;
  if (head.status === 403) {
    throw new Error(
      `[s3-server] Access to ${where} refused (HTTP 403): check the test credentials`,
    );
  }
  const created = await signedS3Request({ ...server, method: "PUT", bucket });
  if (created.status === 200 || created.body.includes("BucketAlreadyOwnedByYou")) return;
  throw new Error(
    `[s3-server] Could not create ${where}: HTTP ${created.status} ${created.body.slice(0, 300)}`,
  );
}

const xmlDecode = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, "&");
const xmlEncode = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Deletes every object under `prefix` (ListObjectsV2 pages + DeleteObjects batches). */
async function deletePrefix(server: Server, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const listed = await signedS3Request({
      ...server,
      method: "GET",
      bucket,
      query: {
        "list-type": "2",
        prefix,
        ...(token === undefined ? {} : { "continuation-token": token }),
      },
    });
    if (listed.status !== 200) throw new Error(`list failed: HTTP ${listed.status}`);
    const keys = [...listed.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => xmlDecode(m[1]!));
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(listed.body);
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(listed.body)?.[1];
    token = truncated && next ? xmlDecode(next) : undefined;
    if (keys.length > 0) {
      const body = Buffer.from(
        `<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${xmlEncode(k)}</Key></Object>`).join("")}</Delete>`,
      );
      const result = await signedS3Request({
        ...server,
        method: "POST",
        bucket,
        query: { delete: "" },
        body,
        headers: {
          "content-md5": createHash("md5").update(body).digest("base64"),
          "content-type": "application/xml",
        },
      });
      if (result.status !== 200) throw new Error(`delete failed: HTTP ${result.status}`);
      deleted += keys.length;
    }
  } while (token !== undefined);
  return deleted;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = serverFromEnv() ?? (await startRadosgw());
  const bucket = bucketFor(project);
  await ensureBucket(server, bucket);
  const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const prefix = `run-${stamp}-${process.pid}-${randomBytes(3).toString("hex")}/`;
  const config: S3TestConfig = { ...server, bucket, prefix };
  project.provide("s3", config);
  Object.assign(process.env, {
    TRAINABLE_TEST_S3_ENDPOINT: config.endpoint,
    TRAINABLE_TEST_S3_ACCESS_KEY: config.accessKeyId,
    TRAINABLE_TEST_S3_SECRET_KEY: config.secretAccessKey,
    TRAINABLE_TEST_S3_REGION: config.region,
    TRAINABLE_TEST_S3_BUCKET: config.bucket,
    TRAINABLE_TEST_S3_PREFIX: config.prefix,
  });
  return async () => {
    try {
      await deletePrefix(server, bucket, prefix);
    } catch (error) {
      log(`could not clean up s3://${bucket}/${prefix}: ${(error as Error).message}`);
    }
  };
}
