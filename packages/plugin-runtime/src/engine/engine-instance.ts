import { Id } from "@trainable/core";
import { z } from "zod";
import { Timestamp } from "./timestamp.js";

/** A plugin instance of the local engine, stored at `{dataDir}/instances/{id}.json`. */
export const EngineInstance = z.object({
  schemaVersion: z.literal(1),
  id: Id,
  /** The registered plugin it belongs to. */
  plugin: Id,
  /** The checkpoint handle `run` serves (default `default`). */
  handle: Id.optional(),
  /** The validated config. */
  config: z.unknown(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type EngineInstance = z.infer<typeof EngineInstance>;
