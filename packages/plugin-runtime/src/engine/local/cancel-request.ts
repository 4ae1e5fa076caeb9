import { existsSync } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A cancel asked of a local training by another process (the dashboard, another engine): a
 * file beside the task's record, `{dataDir}/tasks/{taskId}/cancel-request.json`. The engine
 * driving the task watches for it and cancels the task itself.
 */
const CANCEL_REQUEST_FILE = "cancel-request.json";

/** `{taskDir}/cancel-request.json` */
export const cancelRequestPath = (taskDir: string) => join(taskDir, CANCEL_REQUEST_FILE);

/** Writes the cancel request of the task whose folder is `taskDir` (which must exist). */
export async function writeCancelRequest(taskDir: string, now: Date): Promise<void> {
  await writeFile(
    cancelRequestPath(taskDir),
    `${JSON.stringify({ requestedAt: now.toISOString(), pid: process.pid })}\n`,
  );
}

/**
 * Calls `onRequest` once when the cancel request of the task in `taskDir` appears: looked for
 * at once — synchronously, so a request already there (a task resumed after it was asked to
 * stop) is seen before its drive calls the plugin — then every `intervalMs`, default 500 ms,
 * on an unref'd timer (it never keeps the process alive). Returns the function that stops
 * watching.
 */
export function watchCancelRequest(
  taskDir: string,
  onRequest: () => void,
  intervalMs = 500,
): () => void {
  const path = cancelRequestPath(taskDir);
  if (existsSync(path)) {
    onRequest();
    return () => {};
  }
  let stopped = false;
  let checking = false;
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  const timer = setInterval(() => {
    if (checking || stopped) return;
    checking = true;
    void stat(path)
      .then(
        () => {
          if (stopped) return;
          stop();
          onRequest();
        },
        () => {},
      )
      .finally(() => {
        checking = false;
      });
  }, intervalMs);
  timer.unref();
  return stop;
}
