import { randomUUID } from "node:crypto";
import { ConflictError, type Id, NotFoundError, validateId } from "@trainable/core";
import type { EngineTrainInput, TrainingTask } from "@trainable/plugin-runtime";
import {
  checkTimeout,
  generateTaskHandle,
  newTrainingTask,
  parseTrainInput,
  saveTarget,
} from "@trainable/plugin-runtime/engine";
import type { BullmqTrainOptions } from "../bullmq-engine-options.js";
import { requestDifference } from "../same-request.js";
import { taskOf } from "../task-of-job.js";
import { TRAIN_JOB, type TrainingJobData } from "../training-job-data.js";
import type { EngineContext, TrainingJob } from "./engine-context.js";
import { getInstance } from "./engine-instances.js";
import type { EventRelay } from "./relay-events.js";

/**
 * `engine.startTraining`'s record: checks the request and queues the task as a job whose id
 * is the task id. A task id queued before answers the task recorded then (an idempotent
 * repeat), or a `ConflictError` when it asked something else. Resolves the task as recorded.
 */
export async function enqueueTraining(
  context: EngineContext,
  request: {
    instanceId: Id;
    input: EngineTrainInput;
    options: BullmqTrainOptions;
    relay: EventRelay;
  },
): Promise<TrainingTask> {
  const { options, relay, instanceId } = request;
  const instance = await getInstance(context, instanceId);
  if (!instance) {
    throw new NotFoundError(
      `[engine-bullmq] Unknown plugin instance "${instanceId}": create it with engine.createInstance first`,
    );
  }
  const input = parseTrainInput(request.input, instance, "engine-bullmq");
  const timeoutMs = options.timeoutMs ?? context.defaultTimeoutMs;
  checkTimeout(timeoutMs, { field: "timeoutMs", component: "engine-bullmq" });
  const taskId =
    options.taskId === undefined ? (randomUUID() as Id) : validateId(options.taskId, "taskId");
  const save = saveTarget(options, () => generateTaskHandle(taskId, context.clock.now()));
  const task = newTrainingTask({
    taskId,
    instance,
    input,
    now: context.clock.now(),
    timeoutMs,
    ...save,
  });
  const data: TrainingJobData = { schemaVersion: 1, task, instance };
  relay.createdHere(taskId);
  // The job id is the task id: adding it again is a no-op that returns the job queued.
  const job = await context.queue.add(TRAIN_JOB, data, {
    jobId: taskId,
    attempts: 1,
    removeOnComplete: false,
    removeOnFail: false,
  });
  // `add` answers with the job it was given: read what Redis holds (the first request's
  // task when this id was queued before).
  const stored = (await context.jobOf(taskId)) ?? (job as TrainingJob);
  const recorded = taskOf(stored);
  if (recorded.taskId === taskId && recorded.createdAt === task.createdAt) {
    context.emit({ type: "created", taskId, task: structuredClone(recorded) });
    return recorded;
  }
  relay.forgetCreated(taskId); // queued before (an idempotent repeat): no `added` comes
  const difference = requestDifference(recorded, {
    instanceId: instance.id,
    input,
    ...(options.handle !== undefined ? { handle: options.handle } : {}),
    setAsDefault: options.setAsDefault ?? true,
  });
  if (difference !== undefined) {
    throw new ConflictError(
      `[engine-bullmq] Task "${taskId}" already exists with a different ${difference}: a task id is the idempotency key of one training request; use a new task id for another training`,
    );
  }
  return recorded;
}
