import { IntegrityError } from "@trainable/core";
import type { RemoteBackend } from "../backends/types.js";

/** Reads a small object (a ref, a blob's sidecar) into memory, refusing more than `maxBytes`. */
export async function readSmallObject(
  backend: RemoteBackend,
  key: string,
  options: { maxBytes: number; signal?: AbortSignal },
): Promise<Buffer> {
  const { body } = await backend.get(key, { signal: options.signal });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > options.maxBytes) {
      body.destroy();
      throw new IntegrityError(`[storage] "${key}" is larger than ${options.maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
