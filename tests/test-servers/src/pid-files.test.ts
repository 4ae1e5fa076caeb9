/**
 * The test servers' start and stop scripts against pid files that outlived their process.
 *
 * A state dir in /tmp outlives the servers it describes: a reboot, a killed container or a
 * /tmp carried over to another machine leaves `redis.pid` or `run/*.pid` naming a number that
 * now belongs to an unrelated process. CI once failed on exactly that: start-redis.sh took
 * the live stranger for its server, waited for a PING that never came and gave up. These
 * tests plant such files (naming a live `sleep` of ours) and run the real scripts: they must
 * start a server of their own, and signal nothing but their own daemons.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPTS = join(import.meta.dirname, "..", "..", "..", "scripts");

interface Bystander {
  pid: number;
  alive(): boolean;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A live process that is none of our servers, whose pid we plant in the state dirs. */
function bystander(): Bystander {
  const child: ChildProcess = spawn("sleep", ["600"], { stdio: "ignore" });
  cleanups.push(() => {
    child.kill("SIGKILL");
  });
  if (child.pid === undefined) throw new Error("could not start sleep");
  return {
    pid: child.pid,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trainable-pid-files-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function listen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** `count` consecutive free ports on 127.0.0.1. */
async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const servers = await Promise.all(Array.from({ length: count }, (_, i) => listen(base + i)));
    await Promise.all(servers.map((s) => s && new Promise((r) => s.close(r))));
    if (servers.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function run(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return exec("bash", [join(SCRIPTS, script), ...args], env);
}

function printed(out: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, "m").exec(out)?.[1];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

describe("scripts/redis", () => {
  it("start-redis.sh starts its own server over a pid file naming an unrelated live process, and stop-redis.sh stops only that server", async () => {
    const stranger = bystander();
    const dir = tempDir();
    writeFileSync(join(dir, "redis.pid"), `${stranger.pid}\n`);
    const port = await freePorts(1);
    const env = { REDIS_DIR: dir };
    cleanups.push(async () => {
      await run("redis/stop-redis.sh", [String(port)], env);
    });

    const started = await run("redis/start-redis.sh", [String(port)], env);
    expect(started.stderr).not.toContain("ERROR");
    expect(started.code).toBe(0);
    expect(printed(started.stdout, "REDIS_URL")).toBe(`redis://127.0.0.1:${port}/0`);
    const pid = Number(printed(started.stdout, "REDIS_PID"));
    expect(pid).not.toBe(stranger.pid);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain("redis-server");
    const ping = await exec("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], {});
    expect(ping.stdout.trim()).toBe("PONG");

    // A second start finds the server it started (now by its title) and reuses it.
    const again = await run("redis/start-redis.sh", [String(port)], env);
    expect(again.code).toBe(0);
    expect(Number(printed(again.stdout, "REDIS_PID"))).toBe(pid);

    const stopped = await run("redis/stop-redis.sh", [String(port)], env);
    expect(stopped.code).toBe(0);
    expect(processAlive(pid)).toBe(false);
    expect(stranger.alive()).toBe(true);
  });

  it("stop-redis.sh signals no process named by a stale pid file", async () => {
    const stranger = bystander();
    const dir = tempDir();
    writeFileSync(join(dir, "redis.pid"), `${stranger.pid}\n`);
    const stopped = await run("redis/stop-redis.sh", ["6399"], { REDIS_DIR: dir });
    expect(stopped.code).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(stranger.alive()).toBe(true);
    expect(existsSync(join(dir, "redis.pid"))).toBe(false);
  });

  it("a start that fails ends its stderr with the error, after the server's log", async () => {
    const dir = tempDir();
    // 30 lines of an older log: the error must still be the last line, where callers look.
    writeFileSync(
      join(dir, "redis.log"),
      Array.from({ length: 30 }, (_, i) => `old log line ${i}`).join("\n"),
    );
    const port = await freePorts(1);
    // Something that is not Redis holds the port: no PONG, and redis-server cannot bind.
    const squatter = await listen(port);
    cleanups.push(() => new Promise((r) => squatter?.close(() => r())));
    const started = await run("redis/start-redis.sh", [String(port)], { REDIS_DIR: dir });
    expect(started.code).toBe(1);
    expect(lastLine(started.stderr)).toMatch(/ERROR: redis-server exited during start$/);
  });
});

describe("scripts/s3", () => {
  function plantRadosgwPids(dir: string, pid: number): void {
    mkdirSync(join(dir, "run"), { recursive: true });
    for (const daemon of ["mon", "osd", "rgw"]) {
      writeFileSync(join(dir, "run", `${daemon}.pid`), `${pid}\n`);
    }
  }

  it("stop-radosgw.sh signals no process named by stale pid files", async () => {
    const stranger = bystander();
    const dir = tempDir();
    plantRadosgwPids(dir, stranger.pid);
    const stopped = await run("s3/stop-radosgw.sh", ["6499"], { RGW_DIR: dir });
    expect(stopped.code).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(stranger.alive()).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it("start-radosgw.sh starts a new cluster over stale pid files, and leaves the processes they name alone", async () => {
    const stranger = bystander();
    const dir = join(tempDir(), "rgw");
    plantRadosgwPids(dir, stranger.pid);
    const port = await freePorts(10);
    const env = { RGW_DIR: dir, RGW_STORE: "memstore", RGW_STORE_BYTES: "268435456" };
    cleanups.push(async () => {
      await run("s3/stop-radosgw.sh", [String(port)], env);
    });

    const started = await run("s3/start-radosgw.sh", [String(port)], env);
    expect(started.stderr).not.toContain("ERROR");
    expect(started.code).toBe(0);
    const endpoint = printed(started.stdout, "S3_ENDPOINT");
    expect(endpoint).toBe(`http://127.0.0.1:${port}`);
    const answer = await fetch(`${endpoint}/`);
    expect(answer.status).toBeLessThan(500);
    await answer.arrayBuffer();
    expect(stranger.alive()).toBe(true);
    const daemons = ["mon", "osd", "rgw"].map((d) =>
      Number(readFileSync(join(dir, "run", `${d}.pid`), "utf8")),
    );
    expect(daemons).not.toContain(stranger.pid);

    const stopped = await run("s3/stop-radosgw.sh", [String(port)], env);
    expect(stopped.code).toBe(0);
    for (const pid of daemons) expect(processAlive(pid)).toBe(false);
    expect(stranger.alive()).toBe(true);
  });
});
