import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { isProcessAlive, PID_NAMESPACE } from "@trainable/internal-node";

/** Who drives a task: the process holding its lock. */
export interface TaskLockHolder {
  pid: number;
  host: string;
  /** The holder's pid namespace (internal-node's `PID_NAMESPACE`); absent in older locks. */
  pidNamespace?: string;
  since: string;
}

export interface TaskLock {
  release(): Promise<void>;
}

// The machine's own name as lock files record it (not internal-node's file-name-safe
// `HOST`): locks written by earlier versions still count as this host's.
const HOST = hostname();

/**
 * Takes the driver lock of a task (`{taskDir}/driver.lock`, created with O_EXCL): exactly one
 * process drives a task at a time — a second engine, or `resume` while `train` runs, finds it
 * held and leaves the task alone. A lock whose holder is a dead process of this host is
 * broken; one held by a live process (or by another host or pid namespace — another container
 * sharing the folder — whose pid cannot be checked from here) is not.
 * Returns the holder instead of a lock when it is held.
 */
export async function lockTask(taskDir: string): Promise<TaskLock | TaskLockHolder> {
  const file = join(taskDir, "driver.lock");
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const handle = await open(file, "wx", 0o644);
      try {
        const holder: TaskLockHolder = {
          pid: process.pid,
          host: HOST,
          ...(PID_NAMESPACE ? { pidNamespace: PID_NAMESPACE } : {}),
          since: new Date().toISOString(),
        };
        await handle.writeFile(JSON.stringify(holder));
        await handle.sync();
      } finally {
        await handle.close();
      }
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = await readHolder(file);
    if (holder !== undefined && (!canCheck(holder) || isProcessAlive(holder.pid))) return holder;
    if (holder === undefined && (await ageMs(file)) < 10_000) {
      // Released meanwhile (look again), or being written by its creator right now.
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    // Left by a dead process (or half written by a process killed between creating and
    // writing it): break it — under a breaker lock, so two breakers never both break, the
    // second removing the fresh lock the first just took.
    await breakStale(file, holder);
  }
  const holder = await readHolder(file);
  return holder ?? { pid: 0, host: "unknown", since: new Date(0).toISOString() };
}

/** Whether the holder's pid can be checked here: this host, and this pid namespace (or none recorded). */
function canCheck(holder: TaskLockHolder): boolean {
  return (
    holder.host === HOST &&
    (holder.pidNamespace === undefined || holder.pidNamespace === PID_NAMESPACE)
  );
}

async function ageMs(file: string): Promise<number> {
  return stat(file).then(
    (st) => Date.now() - st.mtimeMs,
    () => 0,
  );
}

function sameHolder(a: TaskLockHolder | undefined, b: TaskLockHolder | undefined): boolean {
  return (
    a?.pid === b?.pid &&
    a?.host === b?.host &&
    a?.pidNamespace === b?.pidNamespace &&
    a?.since === b?.since
  );
}

/** Removes `file` if it still holds the stale `seen` holder, while holding `{file}.break`. */
async function breakStale(file: string, seen: TaskLockHolder | undefined): Promise<void> {
  const breaker = `${file}.break`;
  try {
    await (await open(breaker, "wx")).close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // Someone else is breaking it. A breaker lock older than 10 s was left by a breaker that
    // died in its few milliseconds of work: remove it so the next attempt can break.
    if ((await ageMs(breaker)) > 10_000) await rm(breaker, { force: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    return;
  }
  try {
    const now = await readHolder(file);
    if (sameHolder(now, seen)) await rm(file, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

async function readHolder(file: string): Promise<TaskLockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<TaskLockHolder>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") {
      return {
        pid: parsed.pid,
        host: parsed.host,
        ...(typeof parsed.pidNamespace === "string" ? { pidNamespace: parsed.pidNamespace } : {}),
        since: String(parsed.since ?? ""),
      };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

export function isTaskLock(value: TaskLock | TaskLockHolder): value is TaskLock {
  return typeof (value as TaskLock).release === "function";
}

/**
 * `lockTask`, answering the lock, or who holds it as words (`process {pid} on {host} (since
 * {time})`) for a message.
 */
export async function takeTaskLock(
  taskDir: string,
): Promise<{ lock: TaskLock } | { heldBy: string }> {
  const lock = await lockTask(taskDir);
  return isTaskLock(lock) ? { lock } : { heldBy: describeHolder(lock) };
}

function describeHolder(holder: TaskLockHolder): string {
  return `process ${holder.pid} on ${holder.host}${holder.since ? ` (since ${holder.since})` : ""}`;
}
