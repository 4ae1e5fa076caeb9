import type { CheckpointStore } from "@trainable/core";

/** A save the plugin made itself through `context.checkpoint.store`. */
export interface SelfSave {
  handle: string;
  ref: { digest: string; archivePath: string };
  defaultMoved: boolean;
}

/**
 * The store, recording the saves made through it (a plugin saving its model itself). A save to
 * the task's own handle carries the task id in its metadata, as the runtime's saves do, so a
 * repeated train call (after a crash) finds it and answers it instead of training again.
 */
export function recordingStore(
  store: CheckpointStore,
  saves: SelfSave[],
  task: { handle: string; taskId: string | undefined },
): CheckpointStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "save") return Reflect.get(target, prop, receiver);
      return async (options: Parameters<CheckpointStore["save"]>[0]) => {
        const stamped =
          task.taskId !== undefined && options.handle === task.handle
            ? { ...options, metadata: { ...options.metadata, trainingTaskId: task.taskId } }
            : options;
        const result = await target.save(stamped);
        saves.push({
          handle: result.ref.handle,
          ref: { digest: result.ref.digest, archivePath: result.ref.archivePath },
          defaultMoved: result.defaultRef !== undefined,
        });
        return result;
      };
    },
  });
}
