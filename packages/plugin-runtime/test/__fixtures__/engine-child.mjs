// The engine of the crash-and-restart test, run as a plain `node` child process on the
// built dist. It starts an asynchronous training, prints every task event as a JSON line,
// and waits forever: the test SIGKILLs it mid-training.
//
//   node engine-child.mjs <dataDir> <storeUrl> <jobsDir> <pluginUrl|in-process>
import { createHttpPluginClient, createLocalEngine } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { ExternalTagger } from "./plugins.mjs";

const [dataDir, storeUrl, jobsDir, plugin] = process.argv.slice(2);
const store = await createCheckpointStore({ url: storeUrl, workspace: "ws" });
const engine = await createLocalEngine({
  store,
  dataDir,
  pollPolicy: { initialDelayMs: 20, minDelayMs: 10 },
  logger: { warn: () => {}, error: (message, error) => console.error(message, error) },
});
engine.registerPlugin(
  "external",
  plugin === "in-process" ? new ExternalTagger() : createHttpPluginClient(plugin),
);
await engine.createInstance({ id: "ext", plugin: "external", config: { jobsDir } });
engine.on("task", (event) => {
  const { task } = event;
  process.stdout.write(
    `${JSON.stringify({ type: event.type, taskId: task.taskId, state: task.state, statusChecks: task.statusChecks })}\n`,
  );
});
await engine.startTraining("ext", {
  trainingParams: { keywords: ["delta"], checksNeeded: 4, jobMs: 1500, retryAfterMs: 50 },
});
setInterval(() => {}, 60_000);
