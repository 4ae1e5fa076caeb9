#!/usr/bin/env node
// Runs the external training service as its own process:
//   node dist/service/main.js [--port 0] [--data-dir ./.external-service] [--step-ms 200]
// Prints "listening on http://127.0.0.1:<port>" once it accepts connections.
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { createTrainingService } from "./training-service.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "data-dir": { type: "string", default: ".external-service" },
    "step-ms": { type: "string", default: "200" },
  },
});
const port = Number(values.port);
const stepMs = Number(values["step-ms"]);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer 0-65535, got ${values.port}`);
  process.exit(2);
}
if (!Number.isFinite(stepMs) || stepMs < 0) {
  console.error(`--step-ms must be a number >= 0, got ${values["step-ms"]}`);
  process.exit(2);
}
const service = createTrainingService({ dataDir: values["data-dir"] as string, stepMs });
const server = serve({ fetch: service.app.fetch, port, hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
const stop = () => {
  service.close();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
