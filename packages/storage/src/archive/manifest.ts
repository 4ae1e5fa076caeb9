import { createHash, type Hash } from "node:crypto";
import { comparePaths, IntegrityError, type ManifestEntry, manifestLine } from "@trainable/core";
import type { ExtractLimits } from "./default-extract-limits.js";
import { entryPathProblem } from "./entry-path-problem.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Builds a manifest line by line and hashes it: the digest is known once the last entry is in. */
export class ManifestWriter {
  readonly #hash: Hash = createHash("sha256");
  readonly #checker: ManifestChecker;
  #bytes = 0;

  constructor(limits?: Partial<ExtractLimits>) {
    this.#checker = new ManifestChecker(limits);
  }

  /** Adds the next entry (in archive order) and returns its line. */
  add(entry: ManifestEntry): string {
    const problem = this.#checker.check(entry);
    if (problem !== undefined) throw new IntegrityError(`[storage] [archive] ${problem}`);
    const line = manifestLine(entry);
    this.#hash.update(line);
    this.#bytes += Buffer.byteLength(line);
    return line;
  }

  get size(): number {
    return this.#bytes;
  }

  get fileCount(): number {
    return this.#checker.files;
  }

  get directoryCount(): number {
    return this.#checker.directories;
  }

  get totalBytes(): number {
    return this.#checker.totalBytes;
  }

  /** `sha256:<hex>` of every line added. */
  digest(): string {
    return `sha256:${this.#hash.digest("hex")}`;
  }
}

/**
 * Checks a sequence of entries as it goes: canonical fields, safe paths, strictly ascending
 * order (so no duplicates), every parent listed before as a directory (so nothing nests under
 * a file), and the limits. Memory: one string per directory.
 */
export class ManifestChecker {
  readonly #limits: ExtractLimits;
  readonly #directories = new Set<string>();
  #previous: string | undefined;
  files = 0;
  directories = 0;
  totalBytes = 0;

  constructor(limits?: Partial<ExtractLimits>) {
    this.#limits = {
      maxEntries: limits?.maxEntries ?? 1_000_000,
      maxTotalBytes: limits?.maxTotalBytes ?? 64 * 1024 ** 3,
      maxPathLength: limits?.maxPathLength ?? 4096,
    };
  }

  /** What is wrong with the next entry, or `undefined`. Counts it when it is fine. */
  check(entry: ManifestEntry): string | undefined {
    const where = `entry ${JSON.stringify(entry.path)}`;
    if (typeof entry.path !== "string") return "an entry has no path";
    const problem = entryPathProblem(entry.path);
    if (problem !== undefined) return `${where}: ${problem}`;
    const pathBytes = Buffer.byteLength(entry.path);
    if (pathBytes > this.#limits.maxPathLength) {
      return `${where}: path is ${pathBytes} bytes, longer than the limit of ${this.#limits.maxPathLength} (maxPathLength)`;
    }
    if (this.#previous !== undefined && comparePaths(this.#previous, entry.path) >= 0) {
      return `${where}: out of order or duplicated (after ${JSON.stringify(this.#previous)})`;
    }
    const slash = entry.path.lastIndexOf("/");
    if (slash !== -1 && !this.#directories.has(entry.path.slice(0, slash))) {
      return `${where}: its parent ${JSON.stringify(entry.path.slice(0, slash))} is not a directory listed before it`;
    }
    if (this.files + this.directories + 1 > this.#limits.maxEntries) {
      return `the folder has more than ${this.#limits.maxEntries} entries (maxEntries limit)`;
    }
    if (entry.type === "file") {
      if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
        return `${where}: size must be a non-negative integer`;
      }
      if (typeof entry.sha256 !== "string" || !SHA256_HEX.test(entry.sha256)) {
        return `${where}: sha256 must be 64 lowercase hex characters`;
      }
      if (this.totalBytes + entry.size > this.#limits.maxTotalBytes) {
        return `the folder holds more than ${this.#limits.maxTotalBytes} bytes of file data (maxTotalBytes limit)`;
      }
      this.totalBytes += entry.size;
      this.files++;
    } else if (entry.type === "directory") {
      this.#directories.add(entry.path);
      this.directories++;
    } else {
      return `${where}: unknown entry type`;
    }
    this.#previous = entry.path;
    return undefined;
  }
}

/** Parses one canonical line (without its `\n`); `undefined` when it is not canonical. */
export function parseManifestLine(line: string): ManifestEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  let entry: ManifestEntry;
  if (typeof record.dir === "string") {
    entry = { type: "directory", path: record.dir };
  } else if (
    typeof record.path === "string" &&
    typeof record.size === "number" &&
    typeof record.sha256 === "string"
  ) {
    entry = { type: "file", path: record.path, size: record.size, sha256: record.sha256 };
  } else {
    return undefined;
  }
  // Only the canonical spelling is accepted, so one folder has exactly one manifest.
  return manifestLine(entry) === `${line}\n` ? entry : undefined;
}

/**
 * Reads a stored manifest as a stream of entries, checking each as it comes (canonical lines,
 * order, safety, limits) and, at the end, its size and digest: the last entry is followed by an
 * `IntegrityError` instead of a clean end when the bytes are not exactly those of `digest`.
 * Memory: one line and one string per directory.
 */
export async function* readManifestEntries(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  options: {
    digest: string;
    size: number;
    what: string;
    limits?: Partial<ExtractLimits>;
  },
): AsyncGenerator<ManifestEntry, void, undefined> {
  const hash = createHash("sha256");
  const checker = new ManifestChecker(options.limits);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const maxLine = (options.limits?.maxPathLength ?? 4096) * 6 + 200;
  let bytes = 0;
  let pending = "";
  let lineNumber = 0;
  const fail = (why: string): IntegrityError =>
    new IntegrityError(`[storage] ${options.what} is damaged: ${why}`);
  for await (const chunk of source) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    bytes += buffer.length;
    if (bytes > options.size) throw fail(`it is larger than its ref says (${options.size} bytes)`);
    hash.update(buffer);
    let text: string;
    try {
      text = decoder.decode(buffer, { stream: true });
    } catch {
      throw fail("it is not valid UTF-8");
    }
    pending += text;
    let newline = pending.indexOf("\n");
    let start = 0;
    while (newline !== -1) {
      lineNumber++;
      const line = pending.slice(start, newline);
      const entry = parseManifestLine(line);
      if (entry === undefined) throw fail(`line ${lineNumber} is not a canonical manifest entry`);
      const problem = checker.check(entry);
      if (problem !== undefined) throw fail(`line ${lineNumber}: ${problem}`);
      yield entry;
      start = newline + 1;
      newline = pending.indexOf("\n", start);
    }
    pending = pending.slice(start);
    if (pending.length > maxLine) throw fail(`line ${lineNumber + 1} is too long`);
  }
  if (pending !== "") throw fail("it does not end with a newline");
  if (bytes !== options.size) {
    throw fail(`it is truncated: ${bytes} of ${options.size} bytes`);
  }
  const digest = `sha256:${hash.digest("hex")}`;
  if (digest !== options.digest) {
    throw fail(`its digest is ${digest}, the ref says ${options.digest}`);
  }
}

export { type ManifestEntry, manifestDigest, manifestLine } from "@trainable/core";
