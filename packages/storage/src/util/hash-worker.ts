import { Worker } from "node:worker_threads";
import { Wakeup } from "./wakeup.js";

const SLOT_BYTES = 1024 * 1024;
const SLOTS = 4;

// Plain CommonJS evaluated from a string, so it ships inside the bundle with no extra file to
// resolve. Bytes travel through a fixed ring of shared buffers: memory stays bounded
// (SLOTS × SLOT_BYTES) however much is hashed.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const slots = workerData.slots.map((buffer) => new Uint8Array(buffer));
let hash = createHash("sha256");
parentPort.on("message", (message) => {
  if (message === null) {
    parentPort.postMessage({ digest: hash.digest("hex") });
    hash = createHash("sha256");
    return;
  }
  hash.update(slots[message.slot].subarray(0, message.length));
  parentPort.postMessage({ ack: message.slot });
});
`;

/**
 * sha256 on a worker thread, so hashing runs on the second core instead of in series with
 * reading and writing on the main thread (sha256 costs ~0.6–1.4 s/GiB here, the largest single
 * cost of a save or a load). One worker hashes any number of streams one after the other:
 * `update()` each chunk, then `digest()` ends the current stream and starts the next. Bytes
 * are copied into a ring of shared buffers (a memcpy, ~10× cheaper than hashing); `update`
 * resolves once its bytes are queued, waiting for a free buffer when the worker is behind.
 */
export class HashWorker {
  readonly #slots = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(SLOT_BYTES));
  readonly #views = this.#slots.map((buffer) => new Uint8Array(buffer));
  readonly #free: number[] = this.#slots.map((_, i) => i);
  readonly #worker: Worker;
  readonly #wakeup = new Wakeup();
  readonly #digests: Array<{ resolve: (hex: string) => void; reject: (error: Error) => void }> = [];
  #failure?: Error;
  #closed = false;

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { slots: this.#slots } });
    this.#worker.on("message", (message: { ack?: number; digest?: string }) => {
      if (message.ack !== undefined) {
        this.#free.push(message.ack);
        this.#wakeup.wake();
      } else if (message.digest !== undefined) {
        this.#digests.shift()?.resolve(message.digest);
      }
    });
    this.#worker.on("error", (error) => this.#fail(error));
    this.#worker.on("exit", (code) => {
      if (!this.#closed) this.#fail(new Error(`hash worker exited with code ${code}`));
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wakeup.wake();
    for (const waiter of this.#digests.splice(0)) waiter.reject(error);
  }

  /** Queues a copy of `chunk` for the current stream; resolves once it is all queued. */
  async update(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      if (this.#failure) throw this.#failure;
      const slot = this.#free.shift();
      if (slot === undefined) {
        await this.#wakeup.wait();
        continue;
      }
      const length = Math.min(SLOT_BYTES, chunk.length - offset);
      this.#views[slot]!.set(chunk.subarray(offset, offset + length));
      this.#worker.postMessage({ slot, length });
      offset += length;
    }
    if (this.#failure) throw this.#failure;
  }

  /** The hex sha256 of everything updated since the last digest; the next stream starts. */
  digest(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const result = new Promise<string>((resolve, reject) => {
      this.#digests.push({ resolve, reject });
    });
    this.#worker.postMessage(null);
    return result;
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }
}
