import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CancelledError,
  IntegrityError,
  NotFoundError,
  RemoteError,
  TrainableError,
} from "@trainable/core";
import type { RemoteBackend } from "../backends/types.js";

export interface OpenDownloadOptions {
  backend: RemoteBackend;
  key: string;
  /** The size the ref gives: the object must be exactly this long. */
  size: number;
  /** Named in errors (e.g. `the blob of handle "v1" (ws/i/blobs/….tar)`). */
  what: string;
  signal?: AbortSignal;
  /** Times a dropped transfer is resumed (default 5). */
  maxResumes?: number;
  /** Called with the bytes received so far. */
  onBytes?: (bytes: number) => void;
  /** When given, the object's bytes must have this sha256 (checked before the stream ends). */
  sha256?: string;
}

const TRANSPORT_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

/**
 * Streams an immutable object of known size. A transfer that drops (a retryable
 * `RemoteError`, a reset or premature close, a body that ends early) resumes where it stopped
 * with a range read, up to `maxResumes` times: bytes already passed on are never fetched
 * again. An object of another size than expected is an `IntegrityError` at once; a missing
 * one too (a ref names it). The stream honours `signal`.
 */
export function openDownload(options: OpenDownloadOptions): Readable {
  const { backend, key, size, what, signal } = options;
  const maxResumes = options.maxResumes ?? 5;
  async function* chunks(): AsyncGenerator<Buffer> {
    let received = 0;
    let resumes = 0;
    const hash = options.sha256 === undefined ? undefined : createHash("sha256");
    /** After a dropped transfer: waits, then true when it may resume (false: give up). */
    const mayResume = async (error: unknown): Promise<boolean> => {
      if (!resumable(error, signal) || resumes >= maxResumes) return false;
      resumes++;
      await sleep(backoff(resumes), undefined, { signal }).catch(() => {});
      return true;
    };
    for (;;) {
      CancelledError.throwIfAborted(signal, "[storage] Download");
      let body: Readable;
      try {
        const got = await backend.get(key, {
          signal,
          ...(received > 0 ? { range: { start: received } } : {}),
        });
        if (got.info.size !== size) {
          got.body.destroy();
          throw new IntegrityError(
            `[storage] ${what} is damaged: it is ${got.info.size} bytes, its ref says ${size}`,
          );
        }
        body = got.body;
      } catch (error) {
        if (NotFoundError.isInstance(error)) {
          throw new IntegrityError(`[storage] ${what} is missing`, { cause: error });
        }
        if (await mayResume(error)) continue;
        throw error;
      }
      try {
        for await (const chunk of body) {
          const bytes = chunk as Buffer;
          received += bytes.length;
          if (received > size) {
            throw new IntegrityError(
              `[storage] ${what} is damaged: it is longer than ${size} bytes`,
            );
          }
          options.onBytes?.(received);
          hash?.update(bytes);
          yield bytes;
        }
      } catch (error) {
        body.destroy();
        if (await mayResume(error)) continue;
        throw error;
      }
      if (received === size) {
        const digest = hash?.digest("hex");
        if (digest !== options.sha256) {
          throw new IntegrityError(
            `[storage] ${what} is damaged: its sha256 is ${digest}, its ref says ${options.sha256}`,
          );
        }
        return;
      }
      // The body ended early without an error: the connection closed. Resume.
      if (resumes >= maxResumes) {
        throw new RemoteError(
          `[storage] Downloading ${what} kept stopping early (${received} of ${size} bytes after ${resumes} resumes)`,
          { retryable: true },
        );
      }
      resumes++;
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

function resumable(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return false;
  if (RemoteError.isInstance(error)) return error.retryable === true;
  if (TrainableError.isInstance(error)) return false;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && TRANSPORT_CODES.has(code);
}

function backoff(attempt: number): number {
  return Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
}
