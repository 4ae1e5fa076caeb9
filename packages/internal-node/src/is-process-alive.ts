import { hostname } from "node:os";

/** This machine's name, reduced to characters safe in a file name (as lock and temp files record it). */
export const HOST =
  hostname()
    .replace(/[^A-Za-z0-9-]/g, "-")
    .slice(0, 64) || "host";

/**
 * True when a process with this pid exists on this machine (`kill(pid, 0)`): `ESRCH` means
 * gone, `EPERM` means alive but owned by someone else.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
