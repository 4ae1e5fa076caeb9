import { spawn } from "node:child_process";
import { join } from "node:path";

export const bin = join(import.meta.dirname, "..", "..", "dist", "bin.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `trainable` binary in `cwd` (its own cache dir there), stdin closed. */
export function spawnCli(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: {
        ...process.env,
        NODE_NO_WARNINGS: "1",
        TRAINABLE_CACHE_DIR: join(cwd, "cache"),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
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
  });
}
