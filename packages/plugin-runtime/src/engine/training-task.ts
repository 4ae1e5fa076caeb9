import {
  Id,
  JsonObject,
  PostUpdate,
  Task,
  TaskState,
  TrainingParameterPluginOutput,
  TrainPluginInput,
  TrainPluginOutput,
} from "@trainable/core";
import { z } from "zod";
import { Timestamp } from "./timestamp.js";

/** One post-update of a training (state, status message, progress, metrics), as recorded. */
export const TrainingUpdate = z.object({
  at: Timestamp,
  /** A `PostUpdate`; tasks recorded by earlier versions hold partial output only. */
  update: z.union([PostUpdate, TrainPluginOutput.partial()]),
});
export type TrainingUpdate = z.infer<typeof TrainingUpdate>;

/**
 * A training as the local engine records it, one JSON file per task at
 * `{dataDir}/tasks/{taskId}/task.json` (validated when read back).
 */
export const TrainingTask = z.object({
  schemaVersion: z.literal(1),
  taskId: Id,
  instanceId: Id,
  plugin: Id,
  state: TaskState,
  /**
   * Where the driver is (its write-ahead record): `training` is written before each `train`
   * call, so a driver that stops while one is in flight is known to have one outstanding and
   * repeats it with `retry` (the plugin then reattaches to its job or answers its save);
   * `polling` once the plugin answered `running` (with `remoteStatus`); `finished` at the end.
   */
  phase: z.enum(["created", "parameters", "training", "polling", "finished"]).optional(),
  /** `train` calls made (a retry after a lost answer counts). */
  attempts: z.number().int().min(0).optional(),
  /** The last status message (the plugin's, or why it failed). */
  statusMessage: z.string().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  startedAt: Timestamp.optional(),
  finishedAt: Timestamp.optional(),
  /** The overall timeout, as an absolute time (a resumed training keeps it). */
  deadline: Timestamp,
  /** The user's input, as asked. */
  input: TrainPluginInput,
  /** The plugin's answer to `getTrainingParameters`. */
  trainingParameters: TrainingParameterPluginOutput.optional(),
  /** The input actually trained with: `input` merged with `trainingParameters`. */
  trainPluginInput: TrainPluginInput.optional(),
  /** Where the model is saved on success. */
  save: z.object({ handle: Id, setAsDefault: z.boolean(), createOnly: z.boolean().optional() }),
  /** The plugin's last status while running (carries `remoteStatusInput`, `retryAfterMs`). */
  remoteStatus: Task.optional(),
  /** Status checks made so far. */
  statusChecks: z.number().int().min(0),
  /** The latest `trainingProgress` posted. */
  progress: JsonObject.optional(),
  /** The latest post-updates, oldest first (bounded). */
  updates: z.array(TrainingUpdate),
  /** The final output: `archivePath`, `trainingResults`, `inferenceParams`. */
  output: TrainPluginOutput.optional(),
  /** The checkpoint saved on success. */
  checkpoint: z
    .object({
      /** Absent when a plugin saved by itself through another store than its context's. */
      handle: Id.optional(),
      digest: z.string().optional(),
      archivePath: z.string(),
      setAsDefault: z.boolean().optional(),
    })
    .optional(),
  /** Why the training failed or was cancelled. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type TrainingTask = z.infer<typeof TrainingTask>;
