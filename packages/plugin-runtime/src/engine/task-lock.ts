import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/** Who drives a task: the process holding its lock. */
export interface TaskLockHolder {
  pid: number;
  host: string;
  since: string;
}

export interface TaskLock {
  release(): Promise<void>;
}

const HOST = hostname();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the driver lock of a task (`{taskDir}/driver.lock`, created with O_EXCL): exactly one
 * process drives a task at a time — a second engine, or `resume` while `train` runs, finds it
 * held and leaves the task alone. A lock whose holder is a dead process of this host is
 * broken; one held by a live process (or by another host, which cannot be checked) is not.
 * Returns the holder instead of a lock when it is held.
 */
export async function lockTask(taskDir: string): Promise<TaskLock | TaskLockHolder> {
  const file = join(taskDir, "driver.lock");
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(file, "wx", 0o644);
      try {
        const holder: TaskLockHolder = {
          pid: process.pid,
          host: HOST,
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
    if (holder === undefined) {
      // Released meanwhile (look again), or left half written by a process killed between
      // creating and writing it (break it once it is clearly not being written).
      const age = await stat(file).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
    } else if (holder.host !== HOST || isAlive(holder.pid)) {
      return holder;
    }
    // Left by a dead process: break it (one breaker wins the rename), then try again.
    const broken = `${file}.stale-${randomBytes(4).toString("hex")}`;
    await rename(file, broken).then(
      () => rm(broken, { force: true }),
      () => {},
    );
  }
  const holder = await readHolder(file);
  return holder ?? { pid: 0, host: "unknown", since: new Date(0).toISOString() };
}

async function readHolder(file: string): Promise<TaskLockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<TaskLockHolder>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") {
      return { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? "") };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

export function isTaskLock(value: TaskLock | TaskLockHolder): value is TaskLock {
  return typeof (value as TaskLock).release === "function";
}

export function describeHolder(holder: TaskLockHolder): string {
  return `process ${holder.pid} on ${holder.host}${holder.since ? ` (since ${holder.since})` : ""}`;
}
