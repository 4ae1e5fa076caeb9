import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { type ManifestEntry, manifestLine } from "@trainable/core";
import { type PackResult, packFolder } from "../pack-folder.js";
import { walkFolder } from "../walk-folder.js";
import { sha256, tempDir } from "./sandbox.js";

/** A folder tree: a string or Buffer is a file, `null` an (empty) directory. */
export type Tree = Record<string, string | Buffer | null>;

export async function makeFolder(tree: Tree, root?: string): Promise<string> {
  const dir = root ?? (await tempDir("trainable-pack-"));
  for (const [rel, content] of Object.entries(tree)) {
    const abs = path.join(dir, ...rel.split("/"));
    if (content === null) {
      await mkdir(abs, { recursive: true });
    } else {
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, content);
    }
  }
  return dir;
}

/** Packs a folder into memory: the archive bytes and what `packFolder` reported. */
export async function packToBuffer(
  folder: string,
  options: { compression?: "none" | "gzip" } = {},
): Promise<{ archive: Buffer; result: PackResult }> {
  const entries = await walkFolder({ folder });
  const { stream, result } = packFolder({ entries, compression: options.compression ?? "none" });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { archive: Buffer.concat(chunks), result: await result };
}

/** The manifest entries of a tree, in archive order (what a save of it records). */
export function manifestOf(tree: Tree): ManifestEntry[] {
  const entries = new Map<string, ManifestEntry>();
  for (const [rel, content] of Object.entries(tree)) {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      entries.set(dir, { type: "directory", path: dir });
    }
    if (content === null) {
      entries.set(rel, { type: "directory", path: rel });
    } else {
      const bytes = typeof content === "string" ? Buffer.from(content) : content;
      entries.set(rel, { type: "file", path: rel, size: bytes.length, sha256: sha256(bytes) });
    }
  }
  return [...entries.values()].sort((a, b) =>
    Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)),
  );
}

/** The canonical bytes of a manifest. */
export function manifestBytes(entries: readonly ManifestEntry[]): Buffer {
  return Buffer.from(entries.map(manifestLine).join(""));
}

export function streamOfChunks(data: Buffer, chunkSize = data.length || 1): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  return Readable.from(chunks, { objectMode: false });
}
