import { Id } from "@trainable/core";
import { z } from "zod";

/** `POST api/instances/:id/default`: point `default` at this handle's checkpoint. */
export const SetDefaultBody = z.object({ handle: Id }).strict();

/** A metric name in `trainingResults`, as a retention rule names it. */
const MetricName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, "must be letters, digits, _ . : - (a key of trainingResults)");

/** The lowest `gcMinAgeMs` a request may ask for. */
const GC_MIN_AGE_FLOOR_MS = 600_000;

const Count = z.number().int().min(0).max(1_000_000);

/** A handle and the digest it pointed at in the preview. */
const ExpectedRef = z
  .object({
    handle: Id,
    digest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/, "must be a checkpoint digest (sha256:<64 hex digits>)"),
  })
  .strict();

/**
 * `POST api/instances/:id/prune`: the CLI's `checkpoints prune` rules. `default` and
 * `protect` are always kept; without `dryRun: true` the handles outside the rules are deleted
 * and unused blobs older than `gcMinAgeMs` collected.
 */
export const PruneBody = z
  .object({
    keepLast: Count.optional(),
    keepBest: Count.optional(),
    metric: MetricName.optional(),
    mode: z.enum(["max", "min"]).default("max"),
    protect: z.array(Id).max(1000).default([]),
    dryRun: z.boolean(),
    /**
     * What the preview said would go, each handle with the digest it pointed at (required
     * without `dryRun`): when the rules now select other handles, or a handle now points at
     * another checkpoint, nothing is deleted and the answer is a conflict.
     */
    expectDeleted: z.array(ExpectedRef).max(100_000).optional(),
    /**
     * Unused blobs younger than this are kept (a save in progress may be about to reference
     * them). At least 10 minutes: a page must not be able to collect a save's blobs under it.
     */
    gcMinAgeMs: z
      .number()
      .int()
      .min(GC_MIN_AGE_FLOOR_MS, `must be at least ${GC_MIN_AGE_FLOOR_MS} (10 minutes)`)
      .max(365 * 24 * 3_600_000)
      .default(3_600_000),
  })
  .strict()
  .refine((b) => b.keepLast !== undefined || b.keepBest !== undefined, {
    path: ["keepLast"],
    message:
      "give keepLast and/or keepBest: pruning without a retention rule would delete every unprotected checkpoint",
  })
  .refine((b) => b.dryRun || b.expectDeleted !== undefined, {
    path: ["expectDeleted"],
    message:
      "is required without dryRun: give the {handle, digest} list the preview (dryRun: true) answered in deletedRefs",
  })
  .refine((b) => !(b.keepBest !== undefined && b.keepBest > 0 && b.metric === undefined), {
    path: ["metric"],
    message: "keepBest needs the name of a metric in trainingResults",
  });
export type PruneBody = z.infer<typeof PruneBody>;
