import { createHash } from "node:crypto";
import type { Id } from "@trainable/core";
import { generateHandle } from "./generate-handle.js";

/**
 * A checkpoint handle for task `taskId`, unique across producers: the time-based
 * `generateHandle(now)` plus a digest of the whole task id (ids a caller picks may share any
 * prefix), e.g. `v20250301-142233-123-1f0c…` (16 hex digits).
 */
export function generateTaskHandle(taskId: string, now: Date): Id {
  const digest = createHash("sha256").update(taskId).digest("hex").slice(0, 16);
  return `${generateHandle(now)}-${digest}` as Id;
}
