import {
  CancelledError,
  ConflictError,
  NotFoundError,
  type TrainableModel,
  type TrainPluginOutput,
} from "@trainable/core";
import type { CoordinatorScope } from "./coordinator-scope.js";
import type { TrainCallOptions, TrainResponse } from "./create-training-coordinator.js";
import type { SelfSave } from "./recording-store.js";
import type { TrainRequest } from "./train-request.js";

/** A succeeded training to save, as `train` answered it. */
export interface SucceededTraining {
  request: TrainRequest;
  response: TrainResponse;
  model: TrainableModel<unknown>;
  call: TrainCallOptions<unknown>;
  signal: AbortSignal;
  /** The saves the plugin made itself during the call. */
  selfSaves: SelfSave[];
  /** The handle to save to. */
  handle: string;
}

/**
 * Saves a succeeded training (`model.saveRemote` to its handle, moving `default` unless told
 * not to) and answers where, in `status.output`. A plugin that saved by itself (it reports
 * an `archivePath`) is not saved again: its save is answered. A create-only save that finds
 * the handle taken by another driver of the same task answers that driver's save.
 */
export async function saveTraining(
  scope: CoordinatorScope,
  training: SucceededTraining,
): Promise<TrainResponse> {
  const { request, response, call, signal, handle } = training;
  const data: TrainPluginOutput = { ...response.data, pluginInstanceId: call.instance.id };
  if (data.archivePath) {
    // A plugin that saved by itself (the original's style) reports its archivePath: record
    // the handle it really saved to, when it saved through its context's store.
    const own = training.selfSaves.findLast((s) => s.ref.archivePath === data.archivePath);
    return {
      ...response,
      data,
      status: {
        ...response.status,
        output: own
          ? {
              handle: own.handle,
              digest: own.ref.digest,
              archivePath: own.ref.archivePath,
              setAsDefault: own.defaultMoved,
            }
          : { archivePath: data.archivePath },
      },
    };
  }
  CancelledError.throwIfAborted(signal, "[runtime] Training");
  const taskId = request.status?.taskId;
  const saved = await training.model
    .saveRemote({
      store: scope.store,
      pluginInstanceId: call.instance.id,
      handle,
      setAsDefault: request.save?.setAsDefault ?? true,
      // The store-side fence: only one save of a task can create its handle.
      ...(request.save?.createOnly ? { expectedDigest: null } : {}),
      metadata: {
        trainPluginInput: request.data,
        trainingResults: data.trainingResults,
        ...(data.inferenceParams ? { inferenceParams: data.inferenceParams } : {}),
        // Lets a repeated train call find this save instead of saving twice.
        trainingTaskId: taskId,
      },
      cache: scope.cache,
      signal,
    })
    .catch(async (error: unknown) => {
      // Another driver of this task (it took over while this one was frozen) saved first:
      // answer its save; any other conflict stands.
      if (!ConflictError.isInstance(error) || !request.save?.createOnly || !taskId) throw error;
      const theirs = await savedBefore(scope, {
        request: { ...request, retry: true },
        taskId,
        call,
        signal,
      });
      if (!theirs) throw error;
      return theirs;
    });
  if (!("ref" in saved)) return saved;
  data.archivePath = saved.archivePath;
  return {
    ...response,
    data,
    status: {
      ...response.status,
      output: {
        handle,
        digest: saved.ref.digest,
        archivePath: saved.archivePath,
        setAsDefault: saved.defaultRef !== undefined,
      },
    },
  };
}

/**
 * A repeated train call (`retry`) for a training that already saved: the handle it was
 * asked to save to names a checkpoint this task made (its metadata says so). Answers that
 * save instead of training again.
 */
export async function savedBefore(
  scope: CoordinatorScope,
  options: {
    request: TrainRequest;
    taskId: string;
    call: TrainCallOptions<unknown>;
    signal: AbortSignal | undefined;
  },
): Promise<TrainResponse | undefined> {
  const { request, taskId, call, signal } = options;
  if (!request.retry || request.save?.handle === undefined) return undefined;
  const ref = await scope.store
    .resolve({ pluginInstanceId: call.instance.id, handle: request.save.handle, signal })
    .catch((error: unknown) => {
      if (NotFoundError.isInstance(error)) return undefined;
      throw error;
    });
  if (ref?.metadata.trainingTaskId !== taskId) return undefined;
  const at = scope.now().toISOString();
  const results = ref.metadata.trainingResults as TrainPluginOutput["trainingResults"];
  return {
    data: {
      pluginInstanceId: call.instance.id,
      archivePath: ref.archivePath,
      ...(results ? { trainingResults: results } : {}),
    },
    status: {
      taskId,
      state: "succeeded",
      updatedAt: at,
      finishedAt: at,
      statusMessage: "Training succeeded (found its saved checkpoint)",
      output: { handle: ref.handle, digest: ref.digest, archivePath: ref.archivePath },
    },
  };
}
