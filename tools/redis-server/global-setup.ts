/**
 * Vitest `globalSetup` giving integration tests a real Redis server (for BullMQ).
 *
 * - With `TRAINABLE_TEST_REDIS_URL` set, uses that server.
 * - Otherwise runs `scripts/redis/start-redis.sh ${TRAINABLE_TEST_REDIS_PORT:-6390}` under
 *   `flock` (parallel vitest processes wait for one another; the script is idempotent, reuses
 *   the server it started before and installs redis-server with apt when missing). That
 *   server is our own instance on 127.0.0.1 with AOF on, never the system service.
 *
 * Tests get the server and a key prefix unique to this run through `inject("redis")` and the
 * environment (`TRAINABLE_TEST_REDIS_URL`, `TRAINABLE_TEST_REDIS_PREFIX`, inherited by child
 * processes). When no server can be had, setup throws: Redis tests fail, never skip.
 *
 * Teardown deletes the run's keys. It never stops the server (other runs may use it); stop
 * it with `scripts/redis/stop-redis.sh`.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import type { RedisTestConfig } from "./redis-test-config.js";

const log = (message: string) => process.stderr.write(`[redis-server] ${message}\n`);

async function startRedis(): Promise<Omit<RedisTestConfig, "prefix">> {
  const port = process.env.TRAINABLE_TEST_REDIS_PORT || "6390";
  if (!/^\d{2,5}$/.test(port)) {
    throw new Error(`[redis-server] Bad TRAINABLE_TEST_REDIS_PORT "${port}"`);
  }
  const script = fileURLToPath(new URL("../../scripts/redis/start-redis.sh", import.meta.url));
  const lock = join(tmpdir(), `trainable-redis-${port}.lock`);
  const hasFlock = spawnSync("flock", ["--version"], { stdio: "ignore" }).status === 0;
  const [command, args] = hasFlock
    ? ["flock", ["-o", "-w", "600", lock, "bash", script, port]]
    : ["bash", [script, port]];
  const { code, stdout, stderr } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const child = spawn(command, args as string[], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.on("error", reject);
    child.on("close", (exit) => resolve({ code: exit, stdout: out, stderr: err }));
  });
  if (code !== 0) {
    const tail = stderr.trim().split("\n").slice(-20).join("\n");
    throw new Error(
      `[redis-server] Could not start the Redis test server: "scripts/redis/start-redis.sh ${port}" exited with ${code}.\n${tail}\n` +
        "Fix the error above, or point the tests at another server with TRAINABLE_TEST_REDIS_URL.",
    );
  }
  const values: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^(REDIS_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values[m[1]!] = m[2]!;
  }
  if (!values.REDIS_URL) {
    throw new Error("[redis-server] start-redis.sh succeeded but did not print REDIS_URL");
  }
  return {
    url: values.REDIS_URL,
    host: "127.0.0.1",
    port: Number(port),
    ...(values.REDIS_PID ? { pid: Number(values.REDIS_PID) } : {}),
    ...(values.REDIS_DIR ? { dir: values.REDIS_DIR } : {}),
  };
}

/** Sends one command in RESP and reads one reply (enough for PING and the cleanup). */
function command(host: string, port: number, db: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const encode = (parts: string[]) =>
      `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("")}`;
    let reply = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error("timed out")));
    socket.on("connect", () => {
      socket.write(encode(["SELECT", String(db)]) + encode(args));
    });
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      // +OK (SELECT) then the command's reply
      const second = reply.indexOf("\r\n") + 2;
      if (second > 1 && reply.length > second && reply.endsWith("\r\n")) {
        socket.end();
        resolve(reply.slice(second));
      }
    });
    socket.on("error", reject);
  });
}

function parseUrl(url: string): { host: string; port: number; db: number } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.replace(/^\//, "") || 0),
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.TRAINABLE_TEST_REDIS_URL;
  const server = fromEnv
    ? { url: fromEnv, host: parseUrl(fromEnv).host, port: parseUrl(fromEnv).port }
    : await startRedis();
  const { host, port, db } = parseUrl(server.url);
  let pong: string;
  try {
    pong = await command(host, port, db, ["PING"]);
  } catch (error) {
    throw new Error(
      `[redis-server] Cannot reach Redis at ${server.url}: ${(error as Error).message}`,
    );
  }
  if (!pong.startsWith("+PONG")) {
    throw new Error(`[redis-server] Redis at ${server.url} answered PING with ${pong.trim()}`);
  }
  const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const prefix = `trainable-test-${stamp}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const config: RedisTestConfig = { ...server, prefix };
  project.provide("redis", config);
  Object.assign(process.env, {
    TRAINABLE_TEST_REDIS_URL: config.url,
    TRAINABLE_TEST_REDIS_PREFIX: config.prefix,
  });
  return async () => {
    try {
      // The run's keys (few: one run's queues). EVAL keeps it to one round trip.
      await command(host, port, db, [
        "EVAL",
        "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end return n",
        "0",
        `${prefix}:*`,
      ]);
    } catch (error) {
      log(`could not delete the keys ${prefix}:*: ${(error as Error).message}`);
    }
  };
}
