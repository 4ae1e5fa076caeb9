import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isValidId, type TransferProgress, ValidationError } from "@trainable/core";
import { createBackend, type RemoteBackend } from "@trainable/storage";

/** One `{handle}.zip` of a Steamship layout. */
interface SteamshipZip {
  /** The file name, e.g. `epoch_3.zip`. */
  name: string;
  handle: string;
  size: number;
  /**
   * The zip as a local file, with the sha256 of its bytes. An S3 object is downloaded to a
   * temporary file (streaming) that `dispose` removes; a local file is only read to hash it.
   */
  open(
    options: OpenZipOptions,
  ): Promise<{ path: string; sha256: string; dispose(): Promise<void> }>;
}

interface OpenZipOptions {
  tmpDir?: string;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

export interface SteamshipLayout {
  /** The handle zips and `default.zip`, sorted by name. */
  zips: SteamshipZip[];
  /** Entries that are not `*.zip` files (folders, other files): left alone. */
  skipped: string[];
  close(): Promise<void>;
}

/** Streams `body` through sha256 into `to` (or nowhere), reporting download progress. */
async function copyHashing(
  body: Readable,
  options: OpenZipOptions & { size: number; to?: string },
): Promise<string> {
  const { size, to } = options;
  const hash = createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      if (to) options.onProgress?.({ phase: "download", bytes, total: size });
      callback(null, chunk);
    },
  });
  const sink = to
    ? createWriteStream(to, { flags: "wx" })
    : new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(body, tap, sink, { signal: options.signal });
  return hash.digest("hex");
}

function layoutError(source: string, problem: string): ValidationError {
  return ValidationError.forField("cli", "<source>", `${problem} (in ${source})`);
}

function zipOf(
  source: string,
  zip: { name: string; size: number; open: SteamshipZip["open"] },
): SteamshipZip {
  const { name, size, open } = zip;
  const handle = name.slice(0, -".zip".length);
  if (!isValidId(handle)) {
    throw layoutError(
      source,
      `"${name}" does not name a checkpoint handle: a handle starts with a letter or digit and holds only letters, digits, ".", "_" and "-" (rename the file to import it)`,
    );
  }
  return { name, handle, size, open };
}

async function listFolder(dir: string): Promise<SteamshipLayout> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw layoutError(dir, code === "ENOENT" ? "no such folder" : `cannot be read (${code})`);
  }
  const zips: SteamshipZip[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith(".zip")) {
      skipped.push(entry.name);
      continue;
    }
    const path = join(dir, entry.name);
    const { size } = await stat(path);
    zips.push(
      zipOf(dir, {
        name: entry.name,
        size,
        open: async (options) => ({
          path,
          sha256: await copyHashing(createReadStream(path), { ...options, size }),
          dispose: async () => {},
        }),
      }),
    );
  }
  return { zips, skipped, close: async () => {} };
}

async function listBucket(url: string): Promise<SteamshipLayout> {
  let backend: RemoteBackend;
  try {
    backend = await createBackend(url);
  } catch (cause) {
    if (!ValidationError.isInstance(cause)) throw cause;
    throw layoutError(url, cause.message.replace(/^\[[^\]]*\]\s*/, ""));
  }
  const zips: SteamshipZip[] = [];
  const skipped: string[] = [];
  for await (const info of backend.list("")) {
    const name = info.key;
    if (name.includes("/") || !name.endsWith(".zip")) {
      skipped.push(name);
      continue;
    }
    zips.push(
      zipOf(url, {
        name,
        size: info.size,
        open: async (options) => {
          const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), "trainable-zip-"));
          const path = join(dir, name);
          try {
            const { body } = await backend.get(name, { signal: options.signal });
            const sha256 = await copyHashing(body, { ...options, size: info.size, to: path });
            return { path, sha256, dispose: () => rm(dir, { recursive: true, force: true }) };
          } catch (error) {
            await rm(dir, { recursive: true, force: true });
            throw error;
          }
        },
      }),
    );
  }
  return { zips, skipped, close: async () => backend.close?.() };
}

/**
 * The zips of a Steamship plugin instance's checkpoints: a local folder, or an S3 prefix
 * (`s3://bucket/prefix?endpoint=…`, the store URL syntax; credentials from the AWS chain)
 * holding `{handle}.zip` per handle and `default.zip`, as the original's `ModelCheckpoint`
 * uploaded them to `{pluginInstanceId}/{handle}.zip` in the workspace's plugin-data bucket.
 * A zip whose name is not a valid handle is refused here, before anything is imported.
 */
export async function listSteamshipZips(source: string, cwd: string): Promise<SteamshipLayout> {
  const layout = /^s3:\/\//i.test(source)
    ? await listBucket(source)
    : await listFolder(isAbsolute(source) ? source : resolve(cwd, source));
  layout.zips.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return layout;
}
