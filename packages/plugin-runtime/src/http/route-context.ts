import type { MiddlewareHandler } from "hono";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import type { TaskHost } from "../hosted/create-task-host.js";
import type { FailResponse } from "./app-errors.js";
import type { IssuedTaskTable } from "./issued-tasks.js";

/** What the training routes of a plugin app share. */
export interface TrainingRouteContext {
  client: LocalPluginClient;
  /** Hosts the trainings' calls; undefined when the plugin is not trainable. */
  host: TaskHost | undefined;
  /** The trainings this app started. */
  tasks: IssuedTaskTable;
  limitBody: MiddlewareHandler;
  fail: FailResponse;
}
