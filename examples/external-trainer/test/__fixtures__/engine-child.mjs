// The engine of the restart test, run as its own `node` process on built code: the
// @trainable/* packages' dist and this example's dist/plugin.js. It starts a training on the
// external service, prints every task event as a JSON line, and waits: the test SIGKILLs it
// while the service's job is still running.
//
//   node engine-child.mjs <dataDir> <storeUrl> <serviceUrl> <epochs>
import { createLocalEngine } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import plugin from "../../dist/plugin.js";

const [dataDir, storeUrl, serviceUrl, epochs] = process.argv.slice(2);
const store = await createCheckpointStore({ url: storeUrl, workspace: "examples" });
const engine = await createLocalEngine({
  store,
  dataDir,
  pollPolicy: { minDelayMs: 10 },
  logger: { warn: () => {}, error: (message, error) => console.error(message, error) },
});
engine.registerPlugin("external-trainer", plugin);
await engine.createInstance({
  id: "ext",
  plugin: "external-trainer",
  config: { serviceUrl, pollMs: 100 },
});
engine.on("task", ({ type, task }) => {
  const { taskId, state, statusChecks } = task;
  process.stdout.write(`${JSON.stringify({ type, taskId, state, statusChecks })}\n`);
});
await engine.startTraining("ext", { trainingEpochs: Number(epochs) }, { handle: "v1" });
setInterval(() => {}, 60_000);
