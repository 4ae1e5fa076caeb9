import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** Streams a file through sha256 (1 MiB reads) and returns the hex digest and byte count. */
export async function sha256File(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, signal });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
