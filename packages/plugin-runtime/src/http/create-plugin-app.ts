import { join } from "node:path";
import { Hono } from "hono";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { createTaskHost } from "../hosted/create-task-host.js";
import { mountTaskRoutes } from "../hosted/task-routes.js";
import type { PluginService } from "../service/plugin-service.js";
import { mountAccessGuard } from "./access-guard.js";
import { createFailResponse, mountErrorHandlers } from "./app-errors.js";
import { setAppState } from "./app-state.js";
import { createBodyLimits } from "./body-limit.js";
import { mountCancelRoute } from "./cancel-route.js";
import { mountInstanceRoute } from "./instance-route.js";
import { createIssuedTaskTable } from "./issued-tasks.js";
import { type PluginAppOptions, resolvePluginAppOptions } from "./plugin-app-options.js";
import { routeTable } from "./route-table.js";
import { mountRunRoute } from "./run-route.js";
import { settleIssuedTask } from "./settle-issued-task.js";
import { mountTrainRoutes } from "./train-route.js";

/**
 * A Hono app serving one plugin with the original engine's routes and JSON shapes:
 *
 * - `GET /health`
 * - `POST /run` (and `POST /{routeAlias}`, e.g. `/tag`): `PluginRequest<In>` → `{ data: Out }`
 * - `POST /getTrainingParameters`: `PluginRequest<TrainingParameterPluginInput>` → `{ data }`
 * - `POST /train`: `PluginRequest<TrainPluginInput>` (+ `save`), dispatching to `trainStatus`
 *   when `isStatusCheck` is true → `InvocableResponse<TrainPluginOutput>` (+ `updates`)
 * - `POST /cancelTraining`: the last status → a `cancelled` task
 * - `PUT /instances/:id` (when `allowInstanceRegistration`): `{ handle?, config }`
 *
 * With a `token`, every request but `GET /health` (and `POST /run` + alias when `protectRun`
 * is false) needs `Authorization: Bearer <token>`. Status checks and cancels act only on
 * trainings this app started.
 *
 * Bad bodies get 4xx with the problem named; failures come back as a `failed` task with a code
 * and message (HTTP status from `httpStatusForCode`), never a stack trace.
 */
export function createPluginApp(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any> | LocalPluginClient,
  options: PluginAppOptions,
): Hono {
  const { client, bodyLimit, logger, alias, tokens } = resolvePluginAppOptions(service, options);
  const tasks = createIssuedTaskTable({
    dir: options.dataDir ? join(options.dataDir, "served-tasks") : undefined,
    maxTasks: options.servedTasks?.maxTasks,
    endedRetentionMs: options.servedTasks?.endedRetentionMs,
    now: options.now,
    onPruneError: (error) => logger.error("[runtime] Pruning served-tasks/ failed", error),
  });
  const host = client.trainable
    ? createTaskHost({
        client,
        answerWithinMs: options.tasks?.answerWithinMs,
        maxFinishedTasks: options.tasks?.maxFinishedTasks,
        now: options.now,
        // Before the `finished` event goes out: a follower acting on it finds its task here.
        onSettled: (task, error) =>
          settleIssuedTask(tasks, {
            taskId: task.taskId,
            instanceId: task.instanceId,
            response: task.response,
            error,
            interrupted: task.state === "cancelled",
          }),
      })
    : undefined;

  const app = new Hono();
  setAppState(app, { token: tokens !== undefined, tasks });
  const { limitBody, limited } = createBodyLimits(bodyLimit);
  const fail = createFailResponse(logger, client.name);
  mountErrorHandlers(app, fail);
  mountAccessGuard(app, {
    tokens,
    alias,
    protectRun: options.protectRun !== false,
    publicRequests: options.publicRequests,
  });

  const registration = options.allowInstanceRegistration === true;
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      plugin: client.name,
      trainable: client.trainable,
      routes: routeTable(alias, client.trainable, registration),
    }),
  );
  mountRunRoute(app, client, limited);
  const ctx = { client, host, tasks, limitBody, fail };
  mountTrainRoutes(app, ctx);
  mountCancelRoute(app, ctx);
  if (host) mountTaskRoutes(app, host, options.tasks);
  mountInstanceRoute(app, { client, limitBody, allowRegistration: registration });
  return app;
}
