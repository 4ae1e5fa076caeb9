import {
  invocableResponseSchema,
  PostUpdate,
  RemoteError,
  TrainPluginOutput,
  ValidationError,
} from "@trainable/core";
import { z } from "zod";

const TrainResponseBody = invocableResponseSchema(TrainPluginOutput).extend({
  updates: z.array(z.union([PostUpdate, TrainPluginOutput.partial()])).optional(),
});

/**
 * Parses a plugin server's answer to `what` (`train`, `cancelTraining`); a `RemoteError`
 * naming the server (`display`) when it is not a train response with a status.
 */
export function parseTrainResponse(body: unknown, what: string, display: string) {
  const checked = TrainResponseBody.safeParse(body ?? {});
  if (!checked.success || !checked.data.status) {
    const detail = checked.success
      ? "status: missing"
      : ValidationError.fromZod("runtime", "train response", checked.error).message;
    throw new RemoteError(
      `[runtime] Plugin server ${display} answered ${what} with an invalid body: ${detail}`,
    );
  }
  return checked.data;
}

/** An update as the server sent it: a `PostUpdate`, or (an older server) partial output. */
export function normalizeUpdate(update: unknown): PostUpdate {
  const value = update as Record<string, unknown>;
  return "state" in value || "statusMessage" in value || "output" in value
    ? (value as PostUpdate)
    : { output: value as PostUpdate["output"] };
}
