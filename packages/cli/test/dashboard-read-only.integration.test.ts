/**
 * What a read-only dashboard (beyond loopback, no token) serves of the text plugins write —
 * status messages, task errors, posted updates, results — over a real socket: every absolute
 * path in it (a user's data file, the engine's data dir, the cache dir, a Windows path, a
 * `file:` URL) is shown as a read-only dashboard shows paths (relative to the working
 * directory, else `…/` and its last part), in task lists, task detail and the event stream.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "./__fixtures__/read-events.js";
import { raw, type Started, startServer } from "./__fixtures__/start-server.js";

let cwd: string;
/** The engine's data dir, outside the working directory (TRAINABLE_DATA_DIR). */
let dataDir: string;
let cacheDir: string;
const servers: Started[] = [];

const TASK_ID = "leaky-task";
const USER_FILE = "/home/alice/data/x.csv";
const WINDOWS_FILE = "C:\\Users\\alice\\data\\y.csv";

/**
 * A task record as the local engine writes it, its messages full of paths: `failed` once it
 * has `extraUpdate` (before, `running`: a finished task's record is not read again).
 */
function leakyTask(updatedAt: string, extraUpdate?: string) {
  const at = "2026-01-01T00:00:00.000Z";
  const updates = [
    { at, update: { statusMessage: `reading ${USER_FILE} (copy in ${dataDir}/tmp/x.csv)` } },
    { at, update: { output: { trainingProgress: { file: `${cacheDir}/blobs/ab12` } } } },
  ];
  if (extraUpdate) updates.push({ at: updatedAt, update: { statusMessage: extraUpdate } });
  return {
    schemaVersion: 1,
    taskId: TASK_ID,
    instanceId: "words",
    plugin: "echo",
    state: extraUpdate ? "failed" : "running",
    phase: extraUpdate ? "finished" : "polling",
    statusMessage: `Training failed: cannot open ${USER_FILE}; cache at file://${cacheDir}/models`,
    createdAt: at,
    updatedAt,
    ...(extraUpdate ? { finishedAt: updatedAt } : {}),
    deadline: "2026-01-02T00:00:00.000Z",
    input: { pluginInstance: "words", trainingDataUrl: USER_FILE },
    save: { handle: "v1", setAsDefault: true },
    statusChecks: 0,
    progress: { lastFile: USER_FILE },
    updates,
    output: { trainingResults: { report: `${dataDir}/reports/r.html`, accuracy: 0.5 } },
    checkpoint: { handle: "v1", archivePath: `${dataDir}/archives/v1.tar` },
    error: {
      code: "PLUGIN",
      message: `ENOENT: no such file or directory, open '${USER_FILE}' (also tried ${WINDOWS_FILE})`,
    },
  };
}

const writeTask = (task: object) =>
  writeFile(join(dataDir, "tasks", TASK_ID, "task.json"), JSON.stringify(task));

/** Fails naming the first private path found in `text`. */
function expectNoPrivatePath(text: string) {
  for (const secret of ["/home/alice", "C:\\\\Users", dataDir, cacheDir, cwd]) {
    expect(text, `serves ${secret}`).not.toContain(secret);
  }
}

const start = async (args: string[]) => {
  const s = await startServer(cwd, ["dashboard", "--port", "0", ...args], {
    env: { TRAINABLE_DATA_DIR: dataDir, TRAINABLE_CACHE_DIR: cacheDir },
  });
  servers.push(s);
  return s;
};

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "trainable-dashboard-ro-"));
  dataDir = await mkdtemp(join(tmpdir(), "trainable-dashboard-ro-data-"));
  cacheDir = join(dataDir, "cache");
  await mkdir(join(dataDir, "tasks", TASK_ID), { recursive: true });
  await writeTask(leakyTask("2026-01-01T00:00:05.000Z"));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe("a read-only dashboard scrubs paths from what plugins wrote", () => {
  it("task list, task detail and the event stream (snapshot and live events)", async () => {
    const d = await start(["--host", "0.0.0.0"]);
    const url = d.url.replace("0.0.0.0", "127.0.0.1");
    expect((await raw(`${url}/api/info`)).json()).toMatchObject({ readOnly: true });

    const list = await raw(`${url}/api/tasks`);
    expect(list.status).toBe(200);
    expectNoPrivatePath(list.text);
    const [task] = list.json().tasks;
    // Still readable: which file, by its last part.
    expect(task.statusMessage).toBe("Training failed: cannot open …/x.csv; cache at …/models");
    expect(task.error).toEqual({
      code: "PLUGIN",
      message: "ENOENT: no such file or directory, open '…/x.csv' (also tried …/y.csv)",
    });
    expect(task.updates[0].update.statusMessage).toBe("reading …/x.csv (copy in …/x.csv)");
    expect(task.output.trainingResults).toEqual({ report: "…/r.html", accuracy: 0.5 });
    expect(task.checkpoint).toEqual({ handle: "v1" });

    const detail = await raw(`${url}/api/tasks/${TASK_ID}`);
    expect(detail.status).toBe(200);
    expectNoPrivatePath(detail.text);
    expect(detail.json().task.statusMessage).toBe(task.statusMessage);

    const stream = await readEvents(`${url}/api/events`);
    try {
      await stream.until(/event: snapshot\ndata: [^\n]*\n/);
      // A live change: a new update posted with another path.
      await writeTask(
        leakyTask("2026-01-01T00:00:09.000Z", `wrote ${dataDir}/out/model.bin and ${USER_FILE}`),
      );
      await stream.until(/event: task\ndata: [^\n]*\n/);
      expect(stream.seen.text).toContain("wrote …/model.bin and …/x.csv");
      expectNoPrivatePath(stream.seen.text);
    } finally {
      stream.close();
    }
  });

  it("a dashboard that may change things (loopback) shows the messages as written", async () => {
    const d = await start([]);
    const detail = await raw(`${d.url}/api/tasks/${TASK_ID}`);
    expect(detail.json().task.statusMessage).toContain(USER_FILE);
    expect(detail.json().task.error.message).toContain(USER_FILE);
  });
});
