import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import { bin } from "./spawn-cli.js";

export interface Started {
  child: ChildProcess;
  /** The URL the command printed (matched by `pattern`). */
  url: string;
  output: () => string;
  /** SIGTERM, resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/** Starts a long-running `trainable …` (serve, dashboard) and resolves once it prints its URL. */
export function startServer(
  cwd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; pattern?: RegExp } = {},
): Promise<Started> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: {
      ...process.env,
      NODE_NO_WARNINGS: "1",
      TRAINABLE_TOKEN: undefined,
      TRAINABLE_CACHE_DIR: join(cwd, "cache"),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const pattern = options.pattern ?? / on (http:\/\/[^\s)]+?)\/? /;
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    const look = () => {
      const m = pattern.exec(out);
      if (m) resolve({ child, url: m[1] as string, output: () => out, stop });
    };
    child.stdout?.on("data", (d) => {
      out += d;
      look();
    });
    child.stderr?.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers read by tests
  json: () => any;
}

/** One HTTP request with exactly these headers (including Host, which fetch will not set). */
export function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: () => JSON.parse(text),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
