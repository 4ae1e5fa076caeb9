import { MessageChannel, Worker } from "node:worker_threads";
import { CancelledError } from "@trainable/core";
import { Wakeup } from "../util/wakeup.js";
import { HASHER_SOURCE, READER_SOURCE } from "./file-reader-sources.js";

/** One file as the reader saw it: `stamp` is [dev, ino, size, mtimeNs, ctimeNs] (decimal). */
export type ReaderMessage =
  /** Small files read whole, packed one after the other into `data`. */
  | {
      kind: "batch";
      files: Array<{ index: number; size: number; sha256: string; stamp: string[] }>;
      data: ArrayBuffer;
      /** Bytes of `data` in use. */
      length: number;
    }
  | { kind: "begin"; index: number; size: number }
  /** `length` bytes of a large file in ring slot `slot`; release the slot once copied. */
  | { kind: "chunk"; slot: number; length: number }
  /** A large file's end; its sha256 comes from the hash worker (`digest()`). */
  | { kind: "end"; index: number; stamp: string[] }
  | { kind: "error"; index: number; path: string; reason: string; code?: string }
  | { kind: "done" };

// Plain CommonJS evaluated from a string (node built-ins only), so it ships inside the bundle.
// It reads files with synchronous system calls — on its own thread they block nothing, and
// they cost a fraction of what a promise round trip through libuv's pool costs per file.
// Small files: read, hashed here, batched and handed over by transfer; the main thread grants
// credit (in KiB) through shared memory, so at most `creditKiB` is in flight. Large files:
// read into a ring of shared slots that the main thread copies out of and a second worker
// hashes at the same time (a slot is reused once both are done), so reading, hashing and
// writing run on three threads.
const RING_SLOTS = 8;

/**
 * Reads files on a worker thread, in order: small files hashed there and handed over in
 * batches (at most `creditKiB` in flight; `grant()` returns credit as the consumer takes
 * bytes), large files through a ring of shared slots that a second worker hashes while the
 * consumer copies them out (`copyChunk()`), their digests from `digest()`.
 */
export class FileReaderWorker {
  readonly #reader: Worker;
  readonly #hasher: Worker;
  readonly #control: Int32Array;
  readonly #holders: Int32Array;
  readonly #ring: Uint8Array;
  readonly #chunkSize: number;
  readonly #queue: ReaderMessage[] = [];
  readonly #digests = new Map<number, string>();
  readonly #wakeup = new Wakeup();
  #failure?: Error;

  constructor(options: {
    paths: readonly string[];
    smallMax: number;
    chunkSize: number;
    batchBytes: number;
    creditKiB: number;
  }) {
    const shared = new SharedArrayBuffer(12);
    this.#control = new Int32Array(shared);
    this.#control[0] = options.creditKiB;
    const slots = new SharedArrayBuffer(4 * RING_SLOTS);
    this.#holders = new Int32Array(slots);
    const ring = new SharedArrayBuffer(RING_SLOTS * options.chunkSize);
    this.#ring = new Uint8Array(ring);
    this.#chunkSize = options.chunkSize;
    const { port1, port2 } = new MessageChannel();
    this.#hasher = new Worker(HASHER_SOURCE, {
      eval: true,
      workerData: { shared, ring, slots, chunkSize: options.chunkSize, hashPort: port2 },
      transferList: [port2],
    });
    this.#reader = new Worker(READER_SOURCE, {
      eval: true,
      workerData: {
        paths: options.paths,
        shared,
        smallMax: options.smallMax,
        chunkSize: options.chunkSize,
        batchBytes: options.batchBytes,
        ring,
        slots,
        hashPort: port1,
      },
      transferList: [port1],
    });
    this.#reader.on("message", (message: ReaderMessage) => {
      this.#queue.push(message);
      this.#wakeup.wake();
    });
    this.#hasher.on("message", (message: { index: number; sha256: string }) => {
      this.#digests.set(message.index, message.sha256);
      this.#wakeup.wake();
    });
    for (const [worker, name] of [
      [this.#reader, "file reader"],
      [this.#hasher, "hash"],
    ] as const) {
      worker.on("error", (error) => {
        this.#failure ??= error;
        this.#wakeup.wake();
      });
      // Exit code 0 is the normal end (the reader after its last message; the hasher when the
      // reader's port closes, after the messages sent on it).
      worker.on("exit", (code) => {
        if (code !== 0) this.#failure ??= new Error(`${name} worker exited with code ${code}`);
        this.#wakeup.wake();
      });
    }
  }

  async #until<T>(ready: () => T | undefined): Promise<T> {
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (this.#failure) throw this.#failure;
      await this.#wakeup.wait();
    }
  }

  /** The next message from the reader, in order. */
  next(): Promise<ReaderMessage> {
    return this.#until(() => this.#queue.shift());
  }

  /** A copy of a large file's chunk (its slot is released for the reader once hashed too). */
  copyChunk(message: { slot: number; length: number }): Buffer {
    const start = message.slot * this.#chunkSize;
    const copy = Buffer.allocUnsafe(message.length);
    copy.set(this.#ring.subarray(start, start + message.length));
    this.releaseChunk(message);
    return copy;
  }

  /** Lets go of a large file's chunk without copying it (only its digest is wanted). */
  releaseChunk(message: { slot: number }): void {
    if (Atomics.sub(this.#holders, message.slot, 1) === 1) {
      Atomics.add(this.#control, 2, 1);
      Atomics.notify(this.#control, 2);
    }
  }

  /** The sha256 of large file `index` (after its "end" message). */
  digest(index: number): Promise<string> {
    return this.#until(() => {
      const digest = this.#digests.get(index);
      if (digest !== undefined) this.#digests.delete(index);
      return digest;
    });
  }

  /** Gives back credit for `bytes` of small-file data the consumer has taken. */
  grant(bytes: number): void {
    Atomics.add(this.#control, 0, Math.ceil(bytes / 1024));
    Atomics.notify(this.#control, 0);
  }

  async close(): Promise<void> {
    Atomics.store(this.#control, 1, 1);
    Atomics.notify(this.#control, 0);
    Atomics.notify(this.#control, 2);
    await Promise.all([this.#reader.terminate(), this.#hasher.terminate()]);
  }
}

/** What the reader saw of a file it hashed: its sha256 and stamp after reading it. */
export interface HashedFile {
  sha256: string;
  /** [dev, ino, size, mtimeNs, ctimeNs], decimal. */
  stamp: string[];
}

/**
 * Hashes files on the reader workers, as a save reads them (nothing copied to this thread):
 * the digests and stamps in the order of `paths`, or undefined when one of them could not be
 * read whole (gone, replaced, changed while read).
 */
export async function hashFiles(
  paths: readonly string[],
  options: { smallMax: number; chunkSize: number; signal?: AbortSignal },
): Promise<HashedFile[] | undefined> {
  const reader = new FileReaderWorker({
    paths,
    smallMax: options.smallMax,
    chunkSize: options.chunkSize,
    batchBytes: options.chunkSize,
    creditKiB: (4 * options.chunkSize) / 1024,
  });
  const stop = () => void reader.close();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    const hashed: HashedFile[] = [];
    for (;;) {
      CancelledError.throwIfAborted(options.signal, "[storage] Save");
      const message = await reader.next();
      if (message.kind === "done") return hashed;
      if (message.kind === "error") return undefined;
      if (message.kind === "batch") {
        for (const file of message.files) hashed[file.index] = file;
        reader.grant(message.data.byteLength);
      } else if (message.kind === "chunk") {
        reader.releaseChunk(message);
      } else if (message.kind === "end") {
        hashed[message.index] = {
          sha256: await reader.digest(message.index),
          stamp: message.stamp,
        };
      }
    }
  } catch (error) {
    // A stop by the signal ends the workers: that is a cancellation, not their failure.
    CancelledError.throwIfAborted(options.signal, "[storage] Save");
    throw error;
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await reader.close();
  }
}
