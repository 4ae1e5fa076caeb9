// A worker process for the crash tests, on the built dist (plain `node`). It prints one JSON
// line per driver point and kills itself (SIGKILL) at `killAt` when asked, so a test can stop
// it at an exact write-ahead point; otherwise the test SIGKILLs it whenever it likes.
//
//   WORKER='{"connection","prefix","queueName","storeUrl","dataDir","killAt"?}' node worker-child.mjs
import { createCheckpointStore } from "@trainable/storage";
import { createBullmqWorker } from "../../dist/index.js";
import { CountingTagger, ExternalTagger, SelfSavingTagger } from "./plugins.mjs";

const config = JSON.parse(process.env.WORKER ?? "{}");
const store = await createCheckpointStore({ url: config.storeUrl, workspace: "ws" });
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
await createBullmqWorker({
  connection: config.connection,
  prefix: config.prefix,
  queueName: config.queueName,
  store,
  plugins: {
    counting: new CountingTagger(),
    external: new ExternalTagger(),
    selfsaving: new SelfSavingTagger(),
  },
  dataDir: config.dataDir,
  concurrency: config.concurrency ?? 1,
  lockDurationMs: config.lockDurationMs ?? 2_000,
  stalledIntervalMs: config.stalledIntervalMs ?? 1_000,
  ...(config.maxStalledCount !== undefined ? { maxStalledCount: config.maxStalledCount } : {}),
  logger: { warn: () => {}, error: (message, error) => console.error(message, error) },
  hooks: {
    at(point, task) {
      say({ point, taskId: task.taskId, phase: task.phase });
      if (point === config.killAt) process.kill(process.pid, "SIGKILL");
    },
  },
});
say({ ready: true, pid: process.pid });
setInterval(() => {}, 60_000);
