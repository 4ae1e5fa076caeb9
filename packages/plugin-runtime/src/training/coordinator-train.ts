import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import {
  ConflictError,
  type Id,
  isFinalTaskState,
  NotFoundError,
  RemoteError,
  TrainableModel,
  ValidationError,
  validateId,
} from "@trainable/core";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import { raceSignal } from "../util/race-signal.js";
import type { CoordinatorScope } from "./coordinator-scope.js";
import type { TrainCallOptions, TrainResponse } from "./create-training-coordinator.js";
import { generateHandle } from "./generate-handle.js";
import type { LiveTraining } from "./live-trainings.js";
import { normalizeTrainResponse } from "./normalize-train-response.js";
import type { SelfSave } from "./recording-store.js";
import { savedBefore, saveTraining } from "./save-training.js";
import { trainContext } from "./train-context.js";
import type { TrainRequest } from "./train-request.js";
import { persistState } from "./training-state.js";

type Call = TrainCallOptions<unknown>;

/**
 * The coordinator's `train`: `train` (or `trainStatus` when `request.isStatusCheck`, or for a
 * repeated call that reattaches to a training kept running), then save on success. A
 * `running` answer keeps the model (in memory and under its state folder); a final one, or a
 * failure, forgets it.
 */
export async function coordinatorTrain(
  scope: CoordinatorScope,
  request: TrainRequest,
  call: Call,
): Promise<TrainResponse> {
  const { live, service } = scope;
  const taskId = checkTrainRequest(request, call);
  const statusCheck = request.isStatusCheck === true;
  // A repeated call (the caller lost the answer of the last one) for a training that has
  // already saved: answer that save, never a second one.
  if (request.retry) {
    const found = await savedBefore(scope, { request, taskId, call, signal: call.signal });
    if (found) {
      await live.cleanup(taskId, call);
      return found;
    }
  }
  const reattach = await reattaches(scope, { request, taskId, call });
  const checking = statusCheck || reattach;
  const loaded = checking ? await live.modelFor(taskId, call) : undefined;
  const entry: LiveTraining = loaded
    ? loaded.entry
    : { model: service.createModel(call.instance.config), controllers: new Set() };
  if (!checking) live.remember(taskId, entry);
  const selfSaves: SelfSave[] = [];
  const handle = request.save?.handle ?? generateHandle(scope.now());
  const controller = new AbortController();
  const signal = call.signal
    ? AbortSignal.any([call.signal, controller.signal])
    : controller.signal;
  entry.controllers.add(controller);
  const startedAt = statusCheck ? request.status?.startedAt : scope.now().toISOString();
  try {
    await mkdir(live.scratchDirOf(taskId), { recursive: true });
    const context = trainContext(scope, { request, taskId, signal, call, selfSaves, handle });
    // A reattach checks the job with the status its train call answered (kept with the model).
    const checkRequest = reattach
      ? { ...request, isStatusCheck: true, status: loaded?.status ?? request.status }
      : request;
    const raw = checking
      ? service.trainStatus(checkRequest, entry.model, context)
      : service.train(request, entry.model, context);
    let response = normalizeTrainResponse(await raceSignal(raw, signal, "Training"), {
      taskId,
      plugin: service.pluginName,
      what: checking ? "trainStatus" : "train",
      now: scope.now,
      startedAt,
    });
    const state = response.status.state;
    if (state === "succeeded") {
      const model = entry.model;
      response = await saveTraining(scope, {
        request,
        response,
        model,
        call,
        signal,
        selfSaves,
        handle,
      });
    } else if (!isFinalTaskState(state)) {
      // Keep the model as it is now (a status check may have changed it), so a status
      // check after a restart of this process starts from it.
      const stateDir = live.stateDirOf(taskId, call);
      entry.status = response.status;
      if (stateDir) await persistState(entry.model, response.status, stateDir);
      return response;
    }
    await live.cleanup(taskId, call);
    return response;
  } catch (error) {
    // A status check that failed transiently, or was interrupted, keeps the model: the
    // caller may retry, resume later or cancel (which cleans up).
    const keep =
      statusCheck && (signal.aborted || (RemoteError.isInstance(error) && error.retryable));
    if (!keep) await live.cleanup(taskId, call);
    throw error;
  } finally {
    entry.controllers.delete(controller);
  }
}

/** Checks that a request is for the call's instance; answers its task id (new if none). */
function checkTrainRequest(request: TrainRequest, call: Call): Id {
  if (!request.data) throw ValidationError.forField("runtime", "data", "is required");
  if (request.data.pluginInstance !== call.instance.id) {
    throw ValidationError.forField(
      "runtime",
      "data.pluginInstance",
      `"${request.data.pluginInstance}" does not match the plugin instance "${call.instance.id}" the request is for`,
    );
  }
  const taskId = request.isStatusCheck
    ? request.status?.taskId
    : (request.status?.taskId ?? randomUUID());
  if (taskId === undefined) {
    throw ValidationError.forField("runtime", "status.taskId", "is required for a status check");
  }
  return validateId(taskId, "status.taskId");
}

/**
 * Whether a train call continues a training instead of starting one: a repeated call
 * (`retry`) whose model was kept when train answered "running" reattaches to its job
 * (checked with trainStatus). Refuses a status check of a task a synchronous plugin never
 * left running (404), and a caller-chosen id that would take over a live or kept training.
 */
async function reattaches(
  scope: CoordinatorScope,
  { request, taskId, call }: { request: TrainRequest; taskId: Id; call: Call },
): Promise<boolean> {
  const { live, service } = scope;
  const statusCheck = request.isStatusCheck === true;
  if (statusCheck && !live.has(taskId) && synchronousOnly(scope)) {
    if (!(await live.keptState(taskId, call))) {
      // A client asking about a task this plugin never left running: its mistake (404),
      // not a failure of the plugin.
      throw new NotFoundError(
        `[runtime] No training task "${taskId}" to check: ${service.pluginName} trains synchronously, so its trainings finish in train() and leave nothing to poll`,
      );
    }
  }
  if (!statusCheck && request.retry) {
    return live.has(taskId) || (await live.keptState(taskId, call)) !== undefined;
  }
  if (!statusCheck && request.status?.taskId !== undefined) {
    // A caller-chosen id must not take over a training that is live or left state behind
    // (its model and state folder would be replaced, then cleaned up).
    const kept = call.stateDir ? undefined : await live.keptState(taskId, call);
    if (live.has(taskId) || kept) {
      throw new ConflictError(
        `[runtime] Training task "${taskId}" already exists: start a new training without status.taskId, retry it with retry: true, or check it with isStatusCheck`,
      );
    }
  }
  return false;
}

/**
 * True when a status check can only reach the default `trainStatus` (the plugin trains
 * synchronously: its trainings finish inside `train`, so there is never a task to poll).
 */
function synchronousOnly({ service }: CoordinatorScope): boolean {
  return (
    service.trainStatus === TrainablePluginService.prototype.trainStatus &&
    service.modelClass.prototype.trainStatus === TrainableModel.prototype.trainStatus
  );
}
