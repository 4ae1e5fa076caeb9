import {
  type InvocableResponse,
  invocableResponseSchema,
  isFinalTaskState,
  type Task,
  TrainingError,
  TrainPluginOutput,
  ValidationError,
} from "@trainable/core";
import type { TrainResponse } from "./create-training-coordinator.js";

const ResponseSchema = invocableResponseSchema(TrainPluginOutput);

/**
 * Checks a plugin's `train`/`trainStatus` answer and completes its status: the task id, a
 * state (`failed` with an error, else `succeeded` when none), times, and for a failure a
 * message and code. An invalid answer is a `TrainingError` naming `{plugin}.{what}`.
 */
export function normalizeTrainResponse(
  raw: unknown,
  options: { taskId: string; plugin: string; what: string; now: () => Date; startedAt?: string },
): TrainResponse {
  const { plugin, what } = options;
  const result = ResponseSchema.safeParse(raw ?? {});
  if (!result.success) {
    const problems = ValidationError.fromZod("runtime", `${plugin}.${what} response`, result.error);
    throw new TrainingError(
      `[runtime] ${plugin}.${what} returned an invalid response: ${problems.message}`,
    );
  }
  const response = result.data as InvocableResponse<TrainPluginOutput>;
  const state = response.status?.state ?? (response.error ? "failed" : "succeeded");
  const at = options.now().toISOString();
  const status: Task = { ...response.status, taskId: options.taskId, state, updatedAt: at };
  if (options.startedAt && !status.startedAt) status.startedAt = options.startedAt;
  if (state === "failed") {
    status.statusMessage ??= response.error?.message ?? `[runtime] ${plugin} training failed`;
    status.statusCode ??= response.error?.code ?? "TRAINING";
  }
  if (isFinalTaskState(state)) status.finishedAt ??= at;
  return { ...response, status };
}
