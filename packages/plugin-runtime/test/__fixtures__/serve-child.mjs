// (Used by tests/reliability/src/trainings.test.ts.)
// A plugin server for ExternalTagger as a plain `node` child on the built dist: prints
// `listening <url>` once it listens, serves until killed.
//
//   node serve-child.mjs <storeUrl> <dataDir> <port> [kill-after-submit]
import { servePlugin } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { ExternalTagger } from "./plugins.mjs";

const [storeUrl, dataDir, port, kill] = process.argv.slice(2);
// The plugin SIGKILLs this whole server right after it started the external job.
if (kill === "kill-after-submit") process.env.TRAINABLE_TEST_KILL_AFTER_SUBMIT = "1";
const store = await createCheckpointStore({
  url: storeUrl,
  workspace: "ws",
  fingerprintCache: false,
});
const served = await servePlugin(new ExternalTagger(), {
  port: Number(port),
  store,
  dataDir,
  allowInstanceRegistration: true,
  tasks: { answerWithinMs: 50, maxStreamMs: 500, heartbeatMs: 100 },
  logger: { error: (message, error) => console.error(message, error) },
});
process.stdout.write(`listening ${served.url}\n`);
