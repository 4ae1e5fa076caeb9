// (Used by tests/reliability/src/trainings.test.ts.)
// A local engine driving one external training, as a plain `node` child on the built dist,
// that SIGKILLs itself at a chosen write-ahead point (or the plugin at "after-submit"), or
// resumes whatever the last one left and prints the final task.
//
//   node kill-child.mjs start  <dataDir> <storeUrl> <jobsDir> <point> <nth> [<pluginUrl>]
//   node kill-child.mjs resume <dataDir> <storeUrl> <jobsDir> - - [<pluginUrl>]
import { createHttpPluginClient, createLocalEngine } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { ExternalTagger } from "./plugins.mjs";

const [mode, dataDir, storeUrl, jobsDir, point, nth, pluginUrl] = process.argv.slice(2);
const store = await createCheckpointStore({
  url: storeUrl,
  workspace: "ws",
  fingerprintCache: false,
});
let seen = 0;
const engine = await createLocalEngine({
  store,
  dataDir,
  pollPolicy: { initialDelayMs: 5, minDelayMs: 5 },
  logger: { warn: () => {}, error: (message, error) => console.error(message, error) },
  hooks: {
    at(where, _task, response) {
      if (mode !== "start" || where !== point.split(":")[0]) return;
      const wanted = point.split(":")[1];
      if (wanted && response?.status.state !== wanted) return;
      if (++seen === Number(nth)) process.kill(process.pid, "SIGKILL");
    },
  },
});
if (mode === "start" && point === "after-submit")
  process.env.TRAINABLE_TEST_KILL_AFTER_SUBMIT = "1";
engine.registerPlugin(
  "external",
  pluginUrl ? createHttpPluginClient(pluginUrl) : new ExternalTagger(),
);
await engine.createInstance({ id: "ext", plugin: "external", config: { jobsDir } });
if (mode === "start") {
  const run = await engine.startTraining(
    "ext",
    { trainingParams: { keywords: ["delta"], checksNeeded: 3, jobMs: 0, retryAfterMs: 5 } },
    { handle: "h" },
  );
  const task = await run.done;
  process.stdout.write(`${JSON.stringify({ finished: task })}\n`);
} else {
  const result = await engine.resume();
  const finished = [];
  for (const taskId of result.resumed) finished.push(await engine.wait(taskId));
  process.stdout.write(`${JSON.stringify({ result, finished })}\n`);
}
await engine.close();
await store.close();
