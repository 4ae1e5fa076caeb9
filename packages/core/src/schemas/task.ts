import { z } from "zod";
import { JsonObject } from "./json-object.js";
import { TaskState } from "./task-state.js";

const Timestamp = z.iso.datetime({ offset: true });

/** A unit of asynchronous work, as the engine and plugins exchange it. */
export const Task = z.object({
  taskId: z.string().max(256).optional(),
  state: TaskState,
  statusMessage: z.string().max(10_000).optional(),
  statusSuggestion: z.string().max(10_000).optional(),
  statusCode: z.string().max(128).optional(),
  /** Opaque state a plugin needs to check on an external job (e.g. `{ jobId }`). */
  remoteStatusInput: JsonObject.optional(),
  /** How long the engine should wait before the next status check. */
  retryAfterMs: z.number().int().min(0).max(86_400_000).optional(),
  output: z.unknown().optional(),
  createdAt: Timestamp.optional(),
  updatedAt: Timestamp.optional(),
  startedAt: Timestamp.optional(),
  finishedAt: Timestamp.optional(),
});
export type Task = z.infer<typeof Task>;
