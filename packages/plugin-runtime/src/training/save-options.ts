import { Id } from "@trainable/core";
import { z } from "zod";

/**
 * Where a finished training is saved (a runtime extension of the train request):
 * the checkpoint `handle` (default: a generated `v…` timestamp handle) and whether `default`
 * moves to it (default true).
 */
export const SaveOptions = z.object({
  handle: Id.optional(),
  setAsDefault: z.boolean().optional(),
});
export type SaveOptions = z.infer<typeof SaveOptions>;
