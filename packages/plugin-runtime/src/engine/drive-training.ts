import { rm } from "node:fs/promises";
import {
  CancelledError,
  isFinalTaskState,
  type PluginRequestContext,
  type PostUpdate,
  parseWith,
  RemoteError,
  TimeoutError,
  TrainableError,
  TrainPluginInput,
} from "@trainable/core";
import type { PluginClient } from "../client/plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import { mergeTrainingParameters } from "../training/merge-training-parameters.js";
import type { TrainRequest } from "../training/train-request.js";
import { abortError, raceSignal } from "../util/race-signal.js";
import type { Clock } from "./clock.js";
import type { EngineInstance } from "./engine-instance.js";
import { nextPollDelay, type PollPolicy, shouldGiveUp } from "./poll-policy.js";
import type { TaskEvent } from "./task-event.js";
import type { TrainingTask } from "./training-task.js";

/**
 * Where a driver can be stopped on purpose (tests kill the process there, to check that a
 * restart resumes exactly): just before an effect on the plugin, or just after its answer and
 * before that answer is recorded.
 */
export type DrivePoint =
  | "before-train"
  | "after-train"
  | "before-status-check"
  | "after-status-check"
  | "before-finish";

export interface DriveHooks {
  /** Called at each point, with the plugin's answer when there is one. */
  at?(point: DrivePoint, task: TrainingTask, response?: TrainResponse): void | Promise<void>;
}

export interface EngineLogger {
  warn(message: string, error?: unknown): void;
  error(message: string, error?: unknown): void;
}

/** What the driver needs from its engine. */
export interface DriveContext {
  clock: Clock;
  policy: PollPolicy;
  logger: EngineLogger;
  hooks: DriveHooks;
  maxUpdates: number;
  /** The in-training model's folder of a task (in-process plugins). */
  modelDir(taskId: string): string;
  /** Writes the task (resolves once this version is on disk) and emits the event. */
  record(task: TrainingTask, type?: TaskEvent["type"], update?: PostUpdate): Promise<void>;
  /** The context of requests for an instance. */
  contextOf(instanceId: string): PluginRequestContext;
  /** Makes sure the plugin knows the instance. */
  ensureRegistered(client: PluginClient, instance: EngineInstance): Promise<void>;
}

/** Why a driver stopped without finishing (the engine closing): the task stays as it is. */
export const CLOSING = Symbol("engine closing");

/**
 * Drives one training from wherever its record says it is to a final state, recording
 * before every effect (write-ahead): `phase: "training"` before each `train` call, the
 * plugin's `running` status before the next check. A driver that stops anywhere (a crash, a
 * kill, `close()`) leaves a record from which the next one resumes exactly: a `train` call
 * that may have been in flight is repeated with `retry` (the plugin reattaches to its job,
 * or answers the save it already made), status checks continue from the last status. A
 * non-retryable status-check failure stops the plugin's job before the task fails.
 */
export async function driveTraining(
  ctx: DriveContext,
  task: TrainingTask,
  client: PluginClient,
  instance: EngineInstance,
  controller: AbortController,
): Promise<TrainingTask> {
  const { clock, policy, logger, hooks } = ctx;
  const signal = controller.signal;
  const stateDir = ctx.modelDir(task.taskId);
  const nowIso = () => clock.now().toISOString();
  // Each update is emitted at once; the task log coalesces the writes (while one is on its way
  // to disk, only the latest version is written next).
  const onUpdate = (update: PostUpdate) => {
    if (isFinalTaskState(task.state)) return;
    task.updates.push({ at: nowIso(), update });
    if (task.updates.length > ctx.maxUpdates) {
      task.updates.splice(0, task.updates.length - ctx.maxUpdates);
    }
    if (update.output?.trainingProgress) task.progress = update.output.trainingProgress;
    if (update.statusMessage !== undefined) task.statusMessage = update.statusMessage;
    void ctx.record(task, "update", update).catch(() => {});
  };
  const finished = new AbortController();
  const remaining = Date.parse(task.deadline) - clock.now().getTime();
  clock.sleep(Math.max(0, remaining), finished.signal).then(
    () =>
      controller.abort(
        new TimeoutError(
          `[runtime] Training ${task.taskId} timed out: it did not finish by ${task.deadline}`,
        ),
      ),
    () => {},
  );
  const request = (extra: Partial<TrainRequest>): TrainRequest => ({
    data: task.trainPluginInput ?? task.input,
    context: ctx.contextOf(instance.id),
    save: task.save,
    ...extra,
  });
  let polling = false;

  try {
    await ctx.ensureRegistered(client, instance);
    let response: TrainResponse;
    let retry = false;
    if (
      task.phase !== "training" &&
      task.remoteStatus !== undefined &&
      !isFinalTaskState(task.remoteStatus.state)
    ) {
      // Resuming status checks; the first one repeats a check whose answer may be lost.
      response = { status: task.remoteStatus };
      retry = true;
    } else {
      if (task.trainPluginInput === undefined) {
        task.state = "running";
        task.startedAt ??= nowIso();
        await ctx.record(task, "started");
        const params = await raceSignal(
          client.getTrainingParameters(
            { data: task.input, context: ctx.contextOf(instance.id) },
            { signal },
          ),
          signal,
          "Training",
        );
        task.trainingParameters = params;
        task.trainPluginInput = parseWith(
          TrainPluginInput,
          mergeTrainingParameters(task.input, params),
          "training parameters merged with the plugin's answer",
          "runtime",
        );
        task.phase = "parameters";
        await ctx.record(task, "parameters");
      }
      // A train call that was in flight when the last driver stopped: repeat it as a retry.
      const repeated = task.phase === "training";
      task.phase = "training";
      task.state = "running";
      task.attempts = (task.attempts ?? 0) + 1;
      await ctx.record(task);
      await hooks.at?.("before-train", task);
      // A train call that fails transiently (the connection dropped, the server restarted) is
      // repeated as a retry: the plugin side continues the same training, never a second one.
      let failingSince = 0;
      for (let failures = 0; ; failures++) {
        try {
          response = await raceSignal(
            client.train(
              request({
                status: { taskId: task.taskId, state: "waiting" },
                isStatusCheck: false,
                ...(repeated || failures > 0 ? { retry: true } : {}),
              }),
              { signal, onUpdate, stateDir },
            ),
            signal,
            "Training",
          );
          break;
        } catch (error) {
          if (failures === 0) failingSince = clock.now().getTime();
          if (
            signal.aborted ||
            !isTransient(error) ||
            shouldGiveUp(policy, failures + 1, failingSince, clock.now().getTime())
          ) {
            throw error;
          }
          logger.warn(`[runtime] Train call of task ${task.taskId} failed; repeating it`, error);
          task.attempts = (task.attempts ?? 0) + 1;
          await ctx.record(task);
          await clock.sleep(nextPollDelay(policy, failures), signal);
        }
      }
      await hooks.at?.("after-train", task, response);
    }

    let attempt = 0;
    let errors = 0;
    let failingSince = 0;
    for (;;) {
      const state = response.status.state;
      if (state === "succeeded" || state === "failed" || state === "cancelled") {
        return await finish(ctx, task, state, { response });
      }
      polling = true;
      if (!retry || attempt > 0) {
        task.remoteStatus = response.status;
        task.phase = "polling";
        if (response.status.statusMessage) task.statusMessage = response.status.statusMessage;
        await ctx.record(task, "status");
      }
      const wait =
        retry && attempt === 0 && errors === 0
          ? 0
          : errors > 0
            ? nextPollDelay(policy, errors - 1)
            : nextPollDelay(policy, attempt, response.status.retryAfterMs);
      if (wait > 0) await clock.sleep(wait, signal);
      try {
        await hooks.at?.("before-status-check", task);
        response = await raceSignal(
          client.train(
            request({
              status: task.remoteStatus ?? response.status,
              isStatusCheck: true,
              ...(retry && attempt === 0 ? { retry: true } : {}),
            }),
            { signal, onUpdate, stateDir },
          ),
          signal,
          "Training",
        );
        await hooks.at?.("after-status-check", task, response);
        task.statusChecks++;
        errors = 0;
        attempt++;
      } catch (error) {
        if (errors === 0) failingSince = clock.now().getTime();
        if (
          signal.aborted ||
          !isTransient(error) ||
          shouldGiveUp(policy, errors + 1, failingSince, clock.now().getTime())
        ) {
          throw error;
        }
        errors++;
        task.statusChecks++;
        logger.warn(`[runtime] Status check of task ${task.taskId} failed; retrying`, error);
      }
    }
  } catch (error) {
    if (signal.aborted) {
      const reason: unknown = signal.reason;
      if (reason === CLOSING) return structuredClone(task);
      await stopRemote(ctx, task, client, instance);
      if (TimeoutError.isInstance(reason)) {
        return finish(ctx, task, "failed", {
          error: { code: reason.code, message: reason.message },
        });
      }
      const cancelled = CancelledError.isInstance(reason)
        ? reason
        : abortError(signal, "[runtime] Training");
      return finish(ctx, task, "cancelled", { error: errorInfo(cancelled, task.plugin) });
    }
    if (!TrainableError.isInstance(error)) {
      logger.error(`[runtime] Training ${task.taskId} failed unexpectedly`, error);
    }
    // Giving up on a job that may still run: stop it first, so nothing is left training.
    if (polling) await stopRemote(ctx, task, client, instance);
    return finish(ctx, task, "failed", { error: errorInfo(error, task.plugin) });
  } finally {
    finished.abort();
  }
}

/** Records a final state (once), removing the in-training model's folder. */
export async function finish(
  ctx: DriveContext,
  task: TrainingTask,
  state: "succeeded" | "failed" | "cancelled",
  details: { response?: TrainResponse; error?: { code: string; message: string } },
): Promise<TrainingTask> {
  await ctx.hooks.at?.("before-finish", task, details.response);
  const at = ctx.clock.now().toISOString();
  task.state = state;
  task.phase = "finished";
  task.finishedAt = at;
  const response = details.response;
  if (state === "succeeded" && response) {
    task.output = response.data ?? {};
    if (task.output.trainingProgress) task.progress = task.output.trainingProgress;
    const saved = response.status.output as
      | { handle?: string; digest?: string; archivePath?: string; setAsDefault?: boolean }
      | undefined;
    const archivePath = task.output.archivePath ?? saved?.archivePath;
    if (archivePath) {
      // The handle the plugin side reports it saved to (a self-saving plugin may have chosen
      // its own); without a report, the one asked.
      const handle = saved ? saved.handle : task.save.handle;
      task.checkpoint = {
        ...(handle !== undefined ? { handle } : {}),
        archivePath,
        ...(saved?.digest ? { digest: saved.digest } : {}),
        ...(saved?.setAsDefault !== undefined ? { setAsDefault: saved.setAsDefault } : {}),
      };
    }
    task.statusMessage = response.status.statusMessage ?? "Training succeeded";
    task.error = undefined;
  } else {
    const error = details.error ?? {
      code: response?.status.statusCode ?? (state === "cancelled" ? "CANCELLED" : "TRAINING"),
      message:
        response?.status.statusMessage ??
        (state === "cancelled" ? "[runtime] Training cancelled" : "[runtime] Training failed"),
    };
    task.error = error;
    task.statusMessage = error.message;
    if (response?.status) task.remoteStatus = response.status;
  }
  await rm(ctx.modelDir(task.taskId), { recursive: true, force: true }).catch(() => {});
  await rm(`${ctx.modelDir(task.taskId)}.previous`, { recursive: true, force: true }).catch(
    () => {},
  );
  await ctx.record(task, "finished");
  return structuredClone(task);
}

/** Asks the plugin to stop a training's external job; failures are logged, not thrown. */
export async function stopRemote(
  ctx: DriveContext,
  task: TrainingTask,
  client: PluginClient,
  instance: EngineInstance,
): Promise<void> {
  const request: TrainRequest = {
    data: task.trainPluginInput ?? task.input,
    context: ctx.contextOf(instance.id),
    status: task.remoteStatus ?? { taskId: task.taskId, state: "running" },
    save: task.save,
  };
  try {
    await client.cancelTraining(request, {
      stateDir: ctx.modelDir(task.taskId),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    ctx.logger.warn(`[runtime] Could not stop the plugin's job of task ${task.taskId}`, error);
  }
}

function isTransient(error: unknown): boolean {
  return RemoteError.isInstance(error) && error.retryable;
}

export function errorInfo(error: unknown, plugin: string): { code: string; message: string } {
  if (TrainableError.isInstance(error)) return { code: error.code, message: error.message };
  const detail = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message: `[runtime] Plugin "${plugin}" failed: ${detail}` };
}
