import { spawn } from "node:child_process";
import { join } from "node:path";

export const bin = join(import.meta.dirname, "..", "..", "dist", "bin.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `trainable` binary (or another `entry`, e.g. the bin launcher) in `cwd`, with
 * its own cache dir there; `input` is written to its stdin, which is then closed.
 */
export function spawnCli(
  cwd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; entry?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.entry ?? bin, ...args], {
      cwd,
      env: {
        ...process.env,
        NODE_NO_WARNINGS: "1",
        TRAINABLE_CACHE_DIR: join(cwd, "cache"),
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}
