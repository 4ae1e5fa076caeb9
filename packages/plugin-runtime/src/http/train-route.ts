import { randomUUID } from "node:crypto";
import { type Id, type PostUpdate, parseWith, validateId } from "@trainable/core";
import type { Context, Hono } from "hono";
import { HOSTED_KEY, hostedAnswer, hostedStatus } from "../hosted/task-routes.js";
import type { TrainRequest } from "../training/train-request.js";
import { readJson } from "./read-json.js";
import type { TrainingRouteContext } from "./route-context.js";
import { disconnectSignal } from "./run-options.js";
import { settleIssuedTask } from "./settle-issued-task.js";
import { trainingInstanceId } from "./training-instance-id.js";

const MAX_UPDATES_PER_RESPONSE = 1000;

/**
 * `POST /getTrainingParameters`, and `POST /train`: a training starts as a hosted call
 * (answered within `answerWithinMs`, else 202 and the task to follow), a status check is
 * answered from the hosted task or the plugin's `trainStatus`.
 */
export function mountTrainRoutes(app: Hono, ctx: TrainingRouteContext): void {
  const { client, host, tasks } = ctx;
  const name = client.name;

  app.post("/getTrainingParameters", ctx.limitBody, async (c) => {
    const request = parseWith(
      client.schemas.trainingParameters,
      await readJson(c),
      `${name} getTrainingParameters request`,
      "runtime",
    );
    const data = await client.getTrainingParameters(request, { prevalidated: true });
    return c.json({ data, status: { state: "succeeded" } });
  });

  app.post("/train", ctx.limitBody, async (c) => {
    const request = parseWith(
      client.schemas.train,
      await readJson(c),
      `${name} train request`,
      "runtime",
    );
    if (!client.trainable || !host) {
      return c.json(await client.train(request, { prevalidated: true }), 200);
    }
    const given = request.status?.taskId;
    const instanceId = trainingInstanceId(request);
    if (request.isStatusCheck === true) {
      // A training hosted here (its train call outlasted the request): what it did so far.
      // Answered from the host's own record, the plugin is not called.
      const hosted = hostedStatus(host, request, instanceId);
      if (hosted) return c.json(hosted.body as object, hosted.httpStatus as 200);
      // Without a task id, the client answers its own 400 before reaching the plugin.
      const taskId = given === undefined ? undefined : validateId(given, "status.taskId");
      if (taskId !== undefined) {
        await tasks.check({
          taskId,
          instanceId,
          remoteStatusInput: request.status?.remoteStatusInput,
          action: "check",
        });
      }
      return statusCheck(ctx, { c, request, taskId, instanceId });
    }
    const taskId = validateId(given ?? randomUUID(), "status.taskId");
    // A repeated call (`retry`) continues its task: the same check as a status check.
    if (given !== undefined && request.retry === true) {
      await tasks.retry(taskId, instanceId, request.status?.remoteStatusInput);
    } else {
      await tasks.start(taskId, instanceId);
    }
    // The call runs detached from this request (a dropped connection is not a cancel): the
    // answer comes within answerWithinMs, or it is 202 and the task to follow.
    const task = await host.start(
      {
        ...request,
        status: { ...request.status, taskId, state: request.status?.state ?? "waiting" },
      },
      { taskId, instanceId },
    );
    if (!task.response && !task.error) {
      await tasks.issue({ taskId, instanceId, remoteStatusInput: { [HOSTED_KEY]: taskId } });
    }
    const answer = hostedAnswer(task);
    const body = task.response
      ? { ...task.response, updates: host.updates(task.taskId).slice(-MAX_UPDATES_PER_RESPONSE) }
      : answer.body;
    return c.json(body as object, answer.httpStatus as 200);
  });
}

interface StatusCheck {
  c: Context;
  request: TrainRequest;
  /** The task checked (validated); undefined: the client answers its own 400. */
  taskId: Id | undefined;
  instanceId: Id;
}

/** A status check of the plugin's own job (`trainStatus`), answered within the request. */
async function statusCheck(
  ctx: TrainingRouteContext,
  { c, request, taskId, instanceId }: StatusCheck,
): Promise<Response> {
  const signal = disconnectSignal(c);
  const updates: PostUpdate[] = [];
  try {
    const response = await ctx.client.train(request, {
      prevalidated: true,
      signal,
      onUpdate: (update) => {
        if (updates.length >= MAX_UPDATES_PER_RESPONSE) updates.shift();
        updates.push(update);
      },
    });
    await settleIssuedTask(ctx.tasks, {
      taskId,
      instanceId,
      response,
      interrupted: false,
    });
    return c.json({ ...response, updates }, 200);
  } catch (error) {
    await settleIssuedTask(ctx.tasks, {
      taskId,
      instanceId,
      error,
      interrupted: signal.aborted,
    });
    return ctx.fail(c, error, request.status?.taskId);
  }
}
