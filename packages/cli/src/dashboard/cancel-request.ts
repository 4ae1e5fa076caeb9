import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Id, NotFoundError, validateId } from "@trainable/core";

/**
 * A cancel asked of a local training by another process (the dashboard): a file beside the
 * task's record, `{dataDir}/tasks/{taskId}/cancel-request.json`. The process driving the task
 * (`trainable train`, `trainable resume`) looks for it and cancels the task itself: the local
 * engine lets only the driver of a task cancel it while it runs.
 */
const CANCEL_REQUEST_FILE = "cancel-request.json";

const requestPath = (dataDir: string, taskId: Id) =>
  join(dataDir, "tasks", taskId, CANCEL_REQUEST_FILE);

/** Writes a cancel request for a task of the local engine on `dataDir`. */
export async function requestCancel(dataDir: string, taskId: Id, now = new Date()) {
  const dir = join(dataDir, "tasks", taskId);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new NotFoundError(`[cli] Unknown task "${taskId}"`);
  }
  await writeFile(
    requestPath(dataDir, taskId),
    `${JSON.stringify({ requestedAt: now.toISOString(), pid: process.pid })}\n`,
  );
}

/**
 * Calls `onRequest` once when a cancel request for `taskId` appears (checked every
 * `intervalMs`, default 500 ms). Returns the function that stops watching. The task id comes
 * from an engine (not yet checked here): it is validated once, before it names a path.
 */
export function watchCancelRequest(options: {
  dataDir: string;
  taskId: string;
  onRequest: () => void;
  intervalMs?: number;
}): () => void {
  const path = requestPath(options.dataDir, validateId(options.taskId, "taskId"));
  let stopped = false;
  let checking = false;
  const timer = setInterval(() => {
    if (checking || stopped) return;
    checking = true;
    void stat(path)
      .then(
        () => {
          if (stopped) return;
          stop();
          options.onRequest();
        },
        () => {},
      )
      .finally(() => {
        checking = false;
      });
  }, options.intervalMs ?? 500);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return stop;
}
