import { parsePostUpdate, type TrainContext } from "@trainable/core";
import type { CoordinatorScope } from "./coordinator-scope.js";
import type { TrainCallOptions } from "./create-training-coordinator.js";
import { recordingStore, type SelfSave } from "./recording-store.js";
import type { TrainRequest } from "./train-request.js";

/**
 * The context a plugin's `train`/`trainStatus`/`cancelTraining` gets: the call's signal, a
 * scratch folder, `postUpdate` (checked, relayed to the caller) and where to save (a store
 * that records the plugin's own saves in `selfSaves`).
 */
export function trainContext(
  scope: CoordinatorScope,
  options: {
    request: TrainRequest;
    taskId: string;
    signal: AbortSignal;
    call: TrainCallOptions<unknown>;
    selfSaves: SelfSave[];
    handle: string;
  },
): TrainContext {
  const { request, taskId, call, handle } = options;
  return {
    signal: options.signal,
    scratchDir: scope.live.scratchDirOf(taskId),
    postUpdate(update) {
      // Checked at the call: a bad update is the plugin's error, thrown back to it.
      const parsed = parsePostUpdate(update);
      try {
        call.onUpdate?.(parsed);
      } catch {
        // A failing listener is not the plugin's problem.
      }
    },
    checkpoint: {
      store: recordingStore(scope.store, options.selfSaves, { handle, taskId }),
      pluginInstanceId: call.instance.id,
      handle,
      setAsDefault: request.save?.setAsDefault ?? true,
    },
  };
}
