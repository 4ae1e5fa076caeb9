import { Worker } from "node:worker_threads";

const SLOT_BYTES = 1024 * 1024;
const SLOTS = 4;

// The worker is plain CommonJS evaluated from a string, so it ships inside the bundle with no
// extra file to resolve. Chunks travel through a fixed ring of shared buffers: no allocation
// per chunk, so memory stays bounded (SLOTS × SLOT_BYTES) however large the stream.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const slots = workerData.slots.map((buffer) => new Uint8Array(buffer));
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (message) => {
  if (message === null) {
    parentPort.postMessage({ digest: hash.digest("hex") });
    return;
  }
  hash.update(slots[message.slot].subarray(0, message.length));
  parentPort.postMessage({ ack: message.slot });
});
`;

/**
 * sha256 on a worker thread, so hashing a stream runs on the second core instead of in series
 * with packing, writing or extracting on the main thread (on a 2-core machine sha256 costs
 * ~1.4 s/GiB, the largest single cost of a save or load once compression is off). Bytes are
 * copied into a ring of shared buffers (a memcpy, ~10× cheaper than hashing); `update`
 * resolves once its bytes are queued, waiting for a free buffer when the worker is behind.
 */
export class ParallelHasher {
  private readonly slots = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(SLOT_BYTES));
  private readonly views = this.slots.map((buffer) => new Uint8Array(buffer));
  private readonly free: number[] = this.slots.map((_, i) => i);
  private readonly worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { slots: this.slots },
  });
  private waiter?: () => void;
  private digestWaiter?: { resolve: (hex: string) => void; reject: (error: Error) => void };
  private failure?: Error;

  constructor() {
    this.worker.on("message", (message: { ack?: number; digest?: string }) => {
      if (message.ack !== undefined) {
        this.free.push(message.ack);
        this.wake();
      } else if (message.digest !== undefined) {
        this.digestWaiter?.resolve(message.digest);
      }
    });
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => {
      if (code !== 0) this.fail(new Error(`hash worker exited with code ${code}`));
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
    this.digestWaiter?.reject(error);
  }

  /** Queues a copy of `chunk`; resolves once it is all queued. */
  async update(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      if (this.failure) throw this.failure;
      const slot = this.free.shift();
      if (slot === undefined) {
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
        continue;
      }
      const length = Math.min(SLOT_BYTES, chunk.length - offset);
      this.views[slot]!.set(chunk.subarray(offset, offset + length));
      this.worker.postMessage({ slot, length });
      offset += length;
    }
    if (this.failure) throw this.failure;
  }

  /** The hex digest of everything updated; terminates the worker. */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    const result = new Promise<string>((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
    });
    this.worker.postMessage(null);
    try {
      return await result;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a digest (on errors and cancellation). */
  destroy(): void {
    void this.worker.terminate();
  }
}
