import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "@trainable/internal-node";

/**
 * Writes `value` as JSON to `file` atomically: a temp file beside it, fsynced, then renamed
 * over it. A reader (or a crash) sees the old document or the new one, never half of one.
 */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { fsync: true });
}
