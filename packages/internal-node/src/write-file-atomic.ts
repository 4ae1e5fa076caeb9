import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";

export interface WriteFileAtomicOptions {
  /** Where the temp file is made (default: `file`'s own folder, beside it); same filesystem as `file`. */
  temp?: string;
  /** fsync the temp file before the rename (default `false`). */
  fsync?: boolean;
}

/**
 * Writes `data` to `file` atomically: into a temp file first (removed again on any failure),
 * then renamed over `file`. A reader sees the old content or the new, never a part.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const temp = options.temp ?? `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(data);
      if (options.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
