import { parseWith, RemoteError, type Task, validateId } from "@trainable/core";
import type { Hono } from "hono";
import type { HostedTask } from "../hosted/create-task-host.js";
import { readJson } from "./read-json.js";
import type { TrainingRouteContext } from "./route-context.js";
import { trainingInstanceId } from "./training-instance-id.js";

/**
 * `POST /cancelTraining`: the last status → a `cancelled` task. Only a training this app
 * started (and has not seen end) is cancelled; a hosted one stops its call and the plugin's job.
 */
export function mountCancelRoute(app: Hono, ctx: TrainingRouteContext): void {
  const { client, host, tasks } = ctx;
  app.post("/cancelTraining", ctx.limitBody, async (c) => {
    const request = parseWith(
      client.schemas.train,
      await readJson(c),
      `${client.name} cancelTraining request`,
      "runtime",
    );
    if (!client.trainable || !host)
      return c.json(await client.cancelTraining(request, { prevalidated: true }));
    const taskId = validateId(request.status?.taskId, "status.taskId");
    await tasks.check({
      taskId,
      instanceId: trainingInstanceId(request),
      remoteStatusInput: request.status?.remoteStatusInput,
      action: "cancel",
    });
    try {
      // A training hosted here: its call stops, and the plugin's job (the hosted call knows
      // the status it answered, whatever status the caller sent).
      const hosted = host.get(taskId);
      const response = hosted
        ? { status: cancelledStatus(await host.cancel(taskId)) }
        : await client.cancelTraining(request, { prevalidated: true });
      await tasks.forget(taskId);
      return c.json(response);
    } catch (error) {
      if (!(RemoteError.isInstance(error) && error.retryable)) {
        await tasks.forget(taskId).catch(() => {});
      }
      throw error;
    }
  });
}

/** The status a cancel of a hosted training answers: the state its call and job ended in. */
export function cancelledStatus(task: HostedTask): Task {
  return {
    taskId: task.taskId,
    state: task.state,
    ...(task.statusMessage ? { statusMessage: task.statusMessage } : {}),
    updatedAt: task.updatedAt,
  };
}
