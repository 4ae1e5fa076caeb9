import { readlinkSync } from "node:fs";
import { hostname } from "node:os";

/** This machine's name, reduced to characters safe in a file name (as lock and temp files record it). */
export const HOST =
  hostname()
    .replace(/[^A-Za-z0-9-]/g, "-")
    .slice(0, 64) || "host";

/**
 * This process's pid namespace (Linux: the inode of `/proc/self/ns/pid`), or `""` where there
 * is none to read. Two containers can share a host name and a folder (a pod's shared volume,
 * `docker --network host -v /tmp:/tmp`) but not their pids: a pid recorded in the other
 * namespace cannot be checked from this one, and `kill(pid, 0)` would call it dead.
 */
export const PID_NAMESPACE = (() => {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "";
  } catch {
    return "";
  }
})();

/**
 * True when a pid recorded with this host name and pid namespace can be checked from this
 * process: same host, and the same namespace — or none recorded (files of earlier versions).
 */
export function canCheckPid(host: string | undefined, pidNamespace: string | undefined): boolean {
  return host === HOST && (pidNamespace === undefined || pidNamespace === PID_NAMESPACE);
}

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
