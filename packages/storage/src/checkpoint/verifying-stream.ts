import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { IntegrityError } from "@trainable/core";

/**
 * Passes bytes through while hashing (sha256) and counting them. With `expected`, it fails
 * as soon as more bytes than expected arrive, and at the end when the size or hash differ —
 * so a consumer never sees a clean end of a corrupt or truncated stream.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash("sha256");
  bytes = 0;
  sha256?: string;

  constructor(
    private readonly options: {
      expected?: { size: number; sha256: string; what: string };
      onBytes?: (bytes: number) => void;
    } = {},
  ) {
    super({ highWaterMark: 1 << 20 });
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
    this.hash.update(chunk);
    this.options.onBytes?.(this.bytes);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.sha256 = this.hash.digest("hex");
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
