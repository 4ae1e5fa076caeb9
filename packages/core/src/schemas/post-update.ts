import { z } from "zod";
import { ValidationError } from "../errors/validation-error.js";
import { TrainPluginOutput } from "./train-plugin-output.js";

/** The output fields a training may post while it runs (all optional; no other key). */
export const PartialTrainPluginOutput = TrainPluginOutput.partial().strict();

/**
 * What a model posts while it trains (the original's `Response.post_update`): its state,
 * a status message, and partial output (progress, metrics).
 */
export const PostUpdate = z
  .object({
    /** Only the non-final states: a training ends by returning, not by posting. */
    state: z.enum(["waiting", "running"]).optional(),
    statusMessage: z.string().max(10_000).optional(),
    output: PartialTrainPluginOutput.optional(),
  })
  .strict();
export type PostUpdate = z.infer<typeof PostUpdate>;

const FORM_KEYS = new Set(["state", "statusMessage", "output"]);

/**
 * The most a post-update may weigh as JSON: every update is recorded with its task (in the
 * engine's task log, or in Redis for the distributed engine) and sent to every watcher, so it
 * carries progress and metrics, not data.
 */
const MAX_POST_UPDATE_BYTES = 64 * 1024;

/**
 * Checks and normalizes a post-update: a `PostUpdate`, or its short form, a partial
 * `TrainPluginOutput` (`{ trainingProgress: { epoch: 2 } }`). Anything else — unknown keys,
 * a non-object `trainingProgress`, a BigInt or NaN anywhere, more than 64 KiB as JSON — is a
 * `ValidationError` naming the field, thrown to the plugin that posted it; nothing is recorded.
 */
export function parsePostUpdate(value: unknown): PostUpdate {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw ValidationError.forField("runtime", "postUpdate", "must be an object");
  }
  const keys = Object.keys(value);
  const long = keys.some((key) => FORM_KEYS.has(key));
  const result = long
    ? PostUpdate.safeParse(value)
    : PartialTrainPluginOutput.safeParse(value).success
      ? { success: true as const, data: { output: PartialTrainPluginOutput.parse(value) } }
      : PartialTrainPluginOutput.safeParse(value);
  if (!result.success) throw ValidationError.fromZod("runtime", "postUpdate", result.error);
  const bytes = Buffer.byteLength(JSON.stringify(result.data));
  if (bytes > MAX_POST_UPDATE_BYTES) {
    throw ValidationError.forField(
      "runtime",
      "postUpdate",
      `is ${bytes} bytes as JSON, more than ${MAX_POST_UPDATE_BYTES}: post progress and metrics, not data`,
    );
  }
  return result.data as PostUpdate;
}
