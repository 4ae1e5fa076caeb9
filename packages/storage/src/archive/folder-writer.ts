import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import { CancelledError, IntegrityError, ValidationError } from "@trainable/core";
import { HashWorker } from "../util/hash-worker.js";
import type { ByteReader } from "./byte-reader.js";
import { describeHeader, headerDifference } from "./describe-header.js";
import { encodeTarHeader, TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import { closeFd, datasyncFd, fchmodFd, fstatFd, fsyncPath, openFd, writeAll } from "./fd-io.js";
import type { ManifestEntry } from "./manifest.js";

const CREATE_FILE =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
/** Files up to this size are buffered whole and written by a pool, several at a time. */
const SMALL_FILE_MAX = 1024 * 1024;
/** Files from this size are hashed on a worker thread. */
const WORKER_HASH_MIN = 4 * 1024 * 1024;
/** Bytes of a large file gathered before each write and hash call. */
const GATHER_BYTES = 1024 * 1024;
/** Small files being written at the same time (each holds its bytes until written). */
const WRITE_CONCURRENCY = 32;
const ZEROS = Buffer.alloc(TAR_BLOCK_SIZE);

/**
 * Creates the entries under `root` (a folder nobody else writes to), small files in a pool;
 * with no `root`, only checks them.
 */
export class FolderWriter {
  readonly #root: string | undefined;
  readonly #what: string;
  readonly #durable: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #directories: string[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;
  #hasher: HashWorker | undefined;
  #fileMode: number | undefined;

  constructor(options: {
    root: string | undefined;
    what: string;
    durable: boolean;
    signal: AbortSignal | undefined;
  }) {
    this.#root = options.root;
    this.#what = options.what;
    this.#durable = options.durable;
    this.#signal = options.signal;
    if (options.root !== undefined) this.#directories.push(options.root);
  }

  refuse(reason: string): IntegrityError {
    return new IntegrityError(`[storage] ${this.#what} is damaged: ${reason}`);
  }

  async expectHeader(reader: ByteReader, entry: ManifestEntry, count: number): Promise<void> {
    CancelledError.throwIfAborted(this.#signal, "[storage] Extraction");
    if (this.#failure !== undefined) throw this.#failure;
    const expected = encodeTarHeader(
      entry.type === "file"
        ? { path: entry.path, type: "file", size: entry.size }
        : { path: entry.path, type: "directory" },
    );
    const got = await reader.read(expected.length);
    if (got.equals(expected)) return;
    const name = JSON.stringify(entry.path);
    if (got.length < expected.length) {
      throw this.refuse(`it ends before entry ${count} (${name}) of its manifest (truncated)`);
    }
    // Say what is there instead, as far as a header decoder can tell.
    const found = describeHeader(got.subarray(got.length - TAR_BLOCK_SIZE));
    const differs = headerDifference(
      expected.subarray(expected.length - TAR_BLOCK_SIZE),
      got.subarray(got.length - TAR_BLOCK_SIZE),
    );
    throw this.refuse(
      `entry ${count} is not the one its manifest lists: expected ${entry.type} ${name}, found ${found}${differs}`,
    );
  }

  async directory(relative: string): Promise<void> {
    if (this.#root === undefined) return;
    const absolute = this.#absolute(relative);
    try {
      await mkdir(absolute, { mode: 0o755 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EEXIST" && code !== "ENAMETOOLONG") throw error;
      throw ValidationError.forField(
        "storage",
        "target",
        `cannot hold directory ${JSON.stringify(relative)}: ${code === "EEXIST" ? "another entry already has that name here (a case-insensitive filesystem?)" : "the path is longer than this filesystem allows"}`,
      );
    }
    await chmod(absolute, 0o755);
    this.#directories.push(absolute);
  }

  async file(reader: ByteReader, entry: Extract<ManifestEntry, { type: "file" }>): Promise<void> {
    const name = JSON.stringify(entry.path);
    if (entry.size <= SMALL_FILE_MAX) {
      const data = await reader.read(entry.size);
      if (data.length < entry.size) {
        throw this.refuse(`it ends inside file ${name} (truncated)`);
      }
      const sha256 = createHash("sha256").update(data).digest("hex");
      if (sha256 !== entry.sha256) {
        throw this.refuse(`file ${name} has sha256 ${sha256}, its manifest says ${entry.sha256}`);
      }
      await this.#padding(reader, entry);
      if (this.#root !== undefined) await this.#schedule(() => this.#writeSmall(entry.path, data));
      return;
    }
    const fd = this.#root === undefined ? undefined : await this.#create(entry.path);
    try {
      const useWorker = entry.size >= WORKER_HASH_MIN;
      if (useWorker) this.#hasher ??= new HashWorker();
      const inline = useWorker ? undefined : createHash("sha256");
      let received = 0;
      // Network reads arrive in small pieces: gather them into ~1 MiB before writing and
      // hashing, so the per-call costs (a system call, a message to the hash worker) are paid
      // per MiB, not per 16 KiB.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const part = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        if (inline) {
          inline.update(part);
          if (fd !== undefined) await writeAll(fd, part);
        } else {
          await Promise.all([
            this.#hasher!.update(part),
            fd === undefined ? undefined : writeAll(fd, part),
          ]);
        }
      };
      for await (const part of reader.stream(entry.size)) {
        CancelledError.throwIfAborted(this.#signal, "[storage] Extraction");
        received += part.length;
        pending.push(part);
        pendingBytes += part.length;
        if (pendingBytes >= GATHER_BYTES) await flush();
      }
      await flush();
      if (received < entry.size) throw this.refuse(`it ends inside file ${name} (truncated)`);
      const sha256 = inline ? inline.digest("hex") : await this.#hasher!.digest();
      if (sha256 !== entry.sha256) {
        throw this.refuse(`file ${name} has sha256 ${sha256}, its manifest says ${entry.sha256}`);
      }
      if (this.#durable && fd !== undefined) await datasyncFd(fd);
    } finally {
      if (fd !== undefined) await closeFd(fd);
    }
    await this.#padding(reader, entry);
  }

  /** Waits for every write; fsyncs the directories when durable. */
  async finish(): Promise<void> {
    await this.#drain();
    if (this.#failure !== undefined) throw this.#failure;
    await this.#hasher?.close();
    if (this.#durable) {
      for (let i = 0; i < this.#directories.length; i += WRITE_CONCURRENCY) {
        await Promise.all(this.#directories.slice(i, i + WRITE_CONCURRENCY).map(fsyncPath));
      }
    }
  }

  /** Stops: waits for writes in flight (so nothing is written after the folder is removed). */
  async abort(): Promise<void> {
    await this.#drain();
    await this.#hasher?.close();
  }

  async #padding(reader: ByteReader, entry: { path: string; size: number }): Promise<void> {
    const padding = (TAR_BLOCK_SIZE - (entry.size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
    if (padding === 0) return;
    const bytes = await reader.read(padding);
    if (!bytes.equals(ZEROS.subarray(0, padding))) {
      throw this.refuse(
        bytes.length < padding
          ? `it ends inside the padding of ${JSON.stringify(entry.path)} (truncated)`
          : `the padding after ${JSON.stringify(entry.path)} is not zero`,
      );
    }
  }

  async #schedule(task: () => Promise<void>): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    while (this.#inFlight.size >= WRITE_CONCURRENCY) {
      await Promise.race(this.#inFlight);
      if (this.#failure !== undefined) throw this.#failure;
    }
    const promise: Promise<void> = task().then(
      () => {
        this.#inFlight.delete(promise);
      },
      (error: unknown) => {
        this.#failure ??= error;
        this.#inFlight.delete(promise);
      },
    );
    this.#inFlight.add(promise);
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #writeSmall(relative: string, data: Buffer): Promise<void> {
    const fd = await this.#create(relative);
    try {
      await writeAll(fd, data);
      if (this.#durable) await datasyncFd(fd);
    } finally {
      await closeFd(fd);
    }
  }

  async #create(relative: string): Promise<number> {
    let fd: number;
    try {
      fd = await openFd(this.#absolute(relative), CREATE_FILE, 0o644);
    } catch (error) {
      // The checkpoint is fine; this machine's filesystem cannot hold it as it is.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        throw ValidationError.forField(
          "storage",
          "target",
          `cannot hold ${JSON.stringify(relative)}: another entry already has that name here (a case-insensitive filesystem?)`,
        );
      }
      if (code === "ENAMETOOLONG") {
        throw ValidationError.forField(
          "storage",
          "target",
          `cannot hold ${JSON.stringify(relative)}: the path is longer than this filesystem allows`,
        );
      }
      throw error;
    }
    // The umask may take bits off 0644: put them back (checked once, on the first file).
    if (this.#fileMode === undefined) {
      this.#fileMode = (await fstatFd(fd)).mode & 0o7777;
    }
    if (this.#fileMode !== 0o644) await fchmodFd(fd, 0o644);
    return fd;
  }

  #absolute(relative: string): string {
    return path.join(this.#root!, ...relative.split("/"));
  }
}
