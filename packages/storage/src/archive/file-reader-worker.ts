import { Worker } from "node:worker_threads";

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
  | { kind: "chunk"; data: ArrayBuffer }
  | { kind: "end"; index: number; sha256: string; stamp: string[] }
  | { kind: "error"; index: number; path: string; reason: string; code?: string }
  | { kind: "done" };

// Plain CommonJS evaluated from a string (node built-ins only), so it ships inside the bundle.
// It reads files with synchronous system calls — on its own thread they block nothing, and
// they cost a fraction of what a promise round trip through libuv's pool costs per file —
// hashes them, and hands the bytes over by transfer (no copy). The main thread grants credit
// (in KiB) through shared memory, so at most `creditKiB` of file data is ever in flight.
const WORKER_SOURCE = `
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const { parentPort, workerData } = require("node:worker_threads");
const { paths, shared, smallMax, chunkSize, batchBytes } = workerData;
const control = new Int32Array(shared); // [creditKiB, stop]
const FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW || 0) | (fs.constants.O_NONBLOCK || 0);

function stopped() { return Atomics.load(control, 1) !== 0; }
function take(bytes) {
  const kib = Math.ceil(bytes / 1024);
  for (;;) {
    if (stopped()) throw new Error("stopped");
    const credit = Atomics.load(control, 0);
    if (credit >= kib) {
      Atomics.sub(control, 0, kib);
      return;
    }
    Atomics.wait(control, 0, credit, 100);
  }
}
function stampOf(st) {
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map(String);
}
function same(a, b) {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}
class Refused extends Error {
  constructor(reason, code) { super(reason); this.reason = reason; this.code = code; }
}
function readInto(fd, view, length, position) {
  let filled = 0;
  while (filled < length) {
    let n;
    try { n = fs.readSync(fd, view, filled, length - filled, position + filled); }
    catch (e) { throw new Refused("it cannot be read (" + (e.code || e.message) + ")", e.code); }
    if (n === 0) throw new Refused("it got shorter while it was read");
    filled += n;
  }
}

// Small files are read straight into the current batch buffer, which is handed over whole.
let batch = [];
let batchBuffer = null;
let batchSize = 0;
function flush() {
  if (batch.length === 0) return;
  parentPort.postMessage({ kind: "batch", files: batch, data: batchBuffer.buffer, length: batchSize }, [batchBuffer.buffer]);
  batch = []; batchBuffer = null; batchSize = 0;
}
function room(size) {
  if (batchBuffer !== null && batchSize + size > batchBuffer.length) flush();
  if (batchBuffer === null) {
    const capacity = Math.max(batchBytes, size);
    take(capacity);
    batchBuffer = Buffer.allocUnsafeSlow(capacity); // its own memory, transferable
  }
}

let index = 0;
try {
  for (; index < paths.length; index++) {
    let fd;
    try { fd = fs.openSync(paths[index], FLAGS); }
    catch (e) { throw new Refused("it cannot be opened (" + (e.code || e.message) + ")", e.code); }
    try {
      const before = fs.fstatSync(fd, { bigint: true });
      if (!before.isFile()) throw new Refused("it is no longer a regular file");
      const size = Number(before.size);
      if (size <= smallMax) {
        room(size);
        const bytes = batchBuffer.subarray(batchSize, batchSize + size);
        readInto(fd, bytes, size, 0);
        const after = fs.fstatSync(fd, { bigint: true });
        if (!same(before, after)) throw new Refused("it changed while it was read");
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        batch.push({ index, size, sha256, stamp: stampOf(after) });
        batchSize += size;
      } else {
        flush();
        parentPort.postMessage({ kind: "begin", index, size });
        const hash = createHash("sha256");
        for (let position = 0; position < size; ) {
          const length = Math.min(chunkSize, size - position);
          take(length);
          const view = Buffer.allocUnsafeSlow(length); // its own memory, not zero-filled
          const data = view.buffer;
          readInto(fd, view, length, position);
          hash.update(view);
          position += length;
          parentPort.postMessage({ kind: "chunk", data }, [data]);
        }
        const after = fs.fstatSync(fd, { bigint: true });
        if (!same(before, after)) throw new Refused("it changed while it was read");
        parentPort.postMessage({ kind: "end", index, sha256: hash.digest("hex"), stamp: stampOf(after) });
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  flush();
  parentPort.postMessage({ kind: "done" });
} catch (e) {
  if (!stopped()) {
    parentPort.postMessage({ kind: "error", index, path: paths[index] || "", reason: e.reason || String(e && e.message), code: e.code });
  }
}
`;

/**
 * Reads and hashes files on a worker thread, in order, with at most `creditKiB` of file data
 * handed over and not yet consumed. `grant()` returns credit as the consumer takes bytes.
 */
export class FileReaderWorker {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #queue: ReaderMessage[] = [];
  #waiter?: () => void;
  #failure?: Error;

  constructor(options: {
    paths: readonly string[];
    smallMax: number;
    chunkSize: number;
    batchBytes: number;
    creditKiB: number;
  }) {
    const shared = new SharedArrayBuffer(8);
    this.#control = new Int32Array(shared);
    this.#control[0] = options.creditKiB;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        paths: options.paths,
        shared,
        smallMax: options.smallMax,
        chunkSize: options.chunkSize,
        batchBytes: options.batchBytes,
      },
    });
    this.#worker.on("message", (message: ReaderMessage) => {
      this.#queue.push(message);
      this.#wake();
    });
    this.#worker.on("error", (error) => {
      this.#failure ??= error;
      this.#wake();
    });
    this.#worker.on("exit", (code) => {
      this.#failure ??= new Error(`file reader worker exited with code ${code}`);
      this.#wake();
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** The next message, in order. */
  async next(): Promise<ReaderMessage> {
    for (;;) {
      const message = this.#queue.shift();
      if (message !== undefined) return message;
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  /** Gives back credit for `bytes` of file data the consumer has taken. */
  grant(bytes: number): void {
    Atomics.add(this.#control, 0, Math.ceil(bytes / 1024));
    Atomics.notify(this.#control, 0);
  }

  async close(): Promise<void> {
    Atomics.store(this.#control, 1, 1);
    Atomics.notify(this.#control, 0);
    await this.#worker.terminate();
  }
}
