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
