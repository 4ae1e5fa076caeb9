// Another process (another machine, in production) cancelling a training: prints how long
// cancel() took to resolve with the final task, as one JSON line.
//
//   CANCEL='{"connection","prefix","queueName","storeUrl","taskId"}' node cancel-child.mjs
import { createCheckpointStore } from "@trainable/storage";
import { createBullmqEngine } from "../../dist/index.js";

const config = JSON.parse(process.env.CANCEL ?? "{}");
const store = await createCheckpointStore({ url: config.storeUrl, workspace: "ws" });
const engine = await createBullmqEngine({
  connection: config.connection,
  prefix: config.prefix,
  queueName: config.queueName,
  store,
});
const started = Date.now();
const task = await engine.cancel(config.taskId);
process.stdout.write(`${JSON.stringify({ ms: Date.now() - started, state: task.state })}\n`);
await engine.close();
