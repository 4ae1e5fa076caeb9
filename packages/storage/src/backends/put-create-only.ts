import { PreconditionFailedError } from "./precondition-failed-error.js";
import type { RemoteBackend } from "./types.js";

/**
 * Writes a small body at `key` only if nothing is there yet: true when this call created it,
 * false when the key already existed (someone else's write, or an earlier attempt of ours).
 */
export async function putCreateOnly(
  backend: RemoteBackend,
  key: string,
  body: Buffer,
  options: { contentType?: string; signal?: AbortSignal } = {},
): Promise<boolean> {
  try {
    await backend.put(key, body, {
      ifNoneMatch: "*",
      contentLength: body.length,
      ...(options.contentType ? { contentType: options.contentType } : {}),
      signal: options.signal,
    });
    return true;
  } catch (error) {
    if (!PreconditionFailedError.isInstance(error)) throw error;
    return false;
  }
}
