import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const main = join(import.meta.dirname, "..", "dist", "service", "main.js");

export interface RunningService {
  url: string;
  process: ChildProcess;
  /** SIGTERM, then wait for the process to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the external training service as its own process
 * (`node dist/service/main.js --port 0 --data-dir DIR --step-ms N`) and resolves with its URL,
 * parsed from the `listening on http://127.0.0.1:PORT` line it prints.
 */
export function startService(options: {
  dataDir: string;
  stepMs: number;
}): Promise<RunningService> {
  const args = [
    main,
    "--port",
    "0",
    "--data-dir",
    options.dataDir,
    "--step-ms",
    String(options.stepMs),
  ];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`the service did not start within 15 s: ${stderr}`));
    }, 15_000);
    proc.stderr!.on("data", (chunk) => {
      stderr += chunk;
    });
    proc.stdout!.on("data", (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: match[1]!,
        process: proc,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
          await exited;
        },
      });
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
}
