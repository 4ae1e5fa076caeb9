// The sources of the reader and hasher worker threads of `FileReaderWorker` (run with
// `eval: true`, so that the built package needs no separate worker file).

export const READER_SOURCE = `
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const { parentPort, workerData } = require("node:worker_threads");
const { paths, shared, smallMax, chunkSize, batchBytes, ring, slots, hashPort } = workerData;
const control = new Int32Array(shared); // [creditKiB, stop, ringFreed]
const holders = new Int32Array(slots); // per slot: readers of it not done yet (main, hasher)
const ringView = new Uint8Array(ring);
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
function freeSlot() {
  for (;;) {
    if (stopped()) throw new Error("stopped");
    const freed = Atomics.load(control, 2);
    for (let slot = 0; slot < holders.length; slot++) {
      if (Atomics.load(holders, slot) === 0) return slot;
    }
    Atomics.wait(control, 2, freed, 100);
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
        for (let position = 0; position < size; ) {
          const length = Math.min(chunkSize, size - position);
          const slot = freeSlot();
          readInto(fd, ringView.subarray(slot * chunkSize, slot * chunkSize + length), length, position);
          position += length;
          Atomics.store(holders, slot, 2);
          hashPort.postMessage({ slot, length });
          parentPort.postMessage({ kind: "chunk", slot, length });
        }
        const after = fs.fstatSync(fd, { bigint: true });
        if (!same(before, after)) throw new Refused("it changed while it was read");
        hashPort.postMessage({ end: index });
        parentPort.postMessage({ kind: "end", index, stamp: stampOf(after) });
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

// Hashes the large files' slots as the reader fills them; posts each file's digest.
export const HASHER_SOURCE = `
const { createHash } = require("node:crypto");
const { parentPort, workerData } = require("node:worker_threads");
const { shared, ring, slots, chunkSize, hashPort } = workerData;
const control = new Int32Array(shared);
const holders = new Int32Array(slots);
const ringView = new Uint8Array(ring);
let hash = createHash("sha256");
hashPort.on("message", (message) => {
  if (message.end !== undefined) {
    parentPort.postMessage({ index: message.end, sha256: hash.digest("hex") });
    hash = createHash("sha256");
    return;
  }
  const start = message.slot * chunkSize;
  hash.update(ringView.subarray(start, start + message.length));
  if (Atomics.sub(holders, message.slot, 1) === 1) {
    Atomics.add(control, 2, 1);
    Atomics.notify(control, 2);
  }
});
`;

/** The ring's slots (each `chunkSize` bytes): the large-file read-ahead, at most. */
