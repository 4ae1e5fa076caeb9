import { Id } from "@trainable/core";
import { z } from "zod";

/**
 * Where a finished training is saved (a runtime extension of the train request):
 * the checkpoint `handle` (default: a generated `v…` timestamp handle), whether `default`
 * moves to it (default true), and whether the save must create the handle (`createOnly`:
 * when it exists the store refuses the save and no ref moves). Engines set `createOnly` for
 * the handle they generate per task: a second save for the task — from a worker that froze
 * past its lease while another finished the training — is refused by the store itself.
 */
export const SaveOptions = z.object({
  handle: Id.optional(),
  setAsDefault: z.boolean().optional(),
  createOnly: z.boolean().optional(),
});
export type SaveOptions = z.infer<typeof SaveOptions>;
