import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { IntegrityError } from "@trainable/core";
import { ParallelHasher } from "../util/parallel-hasher.js";

/** Streams expected to be at least this large are hashed on a worker thread. */
export const PARALLEL_HASH_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Passes bytes through while hashing (sha256) and counting them. With `expected`, it fails
 * as soon as more bytes than expected arrive, and at the end when the size or hash differ —
 * so a consumer never sees a clean end of a corrupt or truncated stream.
 */
export class VerifyingStream extends Transform {
  private readonly hash?: Hash;
  private readonly parallel?: ParallelHasher;
  bytes = 0;
  sha256?: string;

  constructor(
    private readonly options: {
      expected?: { size: number; sha256: string; what: string };
      onBytes?: (bytes: number) => void;
      /** Roughly how many bytes will pass; large streams are hashed on a worker thread. */
      sizeHint?: number;
    } = {},
  ) {
    super({ highWaterMark: 1 << 20 });
    const size = options.expected?.size ?? options.sizeHint ?? 0;
    if (size >= PARALLEL_HASH_MIN_BYTES) this.parallel = new ParallelHasher();
    else this.hash = createHash("sha256");
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.parallel?.destroy();
    callback(error);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const expected = this.options.expected;
    if (expected && this.bytes > expected.size) {
      done(
        new IntegrityError(
          `[storage] ${expected.what} is larger than its ref says (${expected.size} bytes): refusing it`,
        ),
      );
      return;
    }
    this.options.onBytes?.(this.bytes);
    if (this.parallel) {
      this.push(chunk);
      this.parallel.update(chunk).then(() => done(), done);
      return;
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.parallel) {
      this.parallel.digest().then((hex) => this.finish(hex, done), done);
      return;
    }
    this.finish((this.hash as Hash).digest("hex"), done);
  }

  private finish(hex: string, done: TransformCallback): void {
    this.sha256 = hex;
    const expected = this.options.expected;
    if (expected) {
      if (this.bytes !== expected.size) {
        done(
          new IntegrityError(
            `[storage] ${expected.what} is truncated: got ${this.bytes} of ${expected.size} bytes`,
          ),
        );
        return;
      }
      if (this.sha256 !== expected.sha256) {
        done(
          new IntegrityError(
            `[storage] ${expected.what} does not match its sha256 (expected ${expected.sha256}, got ${this.sha256})`,
          ),
        );
        return;
      }
    }
    done();
  }
}
