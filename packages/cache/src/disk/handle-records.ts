import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Id } from "@trainable/core";
import { errno, writeFileAtomic } from "@trainable/internal-node";
import { entryPaths, handlePath, ownedName } from "./entry-paths.js";

/**
 * The last digest a handle was seen at and when that was recorded (`updatedAt`, ms since
 * the epoch, 0 when unknown): the time the digest was first recorded by the cache that
 * wrote it, so never later than its last verification.
 */
export async function readHandleRecord(options: {
  root: string;
  workspace: Id;
  pluginInstanceId: Id;
  handle: Id;
}): Promise<{ digest: string; updatedAt: number } | undefined> {
  try {
    const text = await readFile(handlePath(options), "utf8");
    const body = JSON.parse(text) as { digest?: unknown; updatedAt?: unknown };
    const digest = body.digest;
    if (typeof digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(digest)) return undefined;
    const updatedAt = typeof body.updatedAt === "string" ? Date.parse(body.updatedAt) : Number.NaN;
    return { digest, updatedAt: Number.isFinite(updatedAt) ? updatedAt : 0 };
  } catch (error) {
    if (errno(error) === "ENOENT" || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Records where a handle points, for offline use (atomic write). */
export async function writeHandle(options: {
  root: string;
  workspace: Id;
  pluginInstanceId: Id;
  handle: Id;
  digest: string;
}): Promise<void> {
  const path = handlePath(options);
  const tmp = entryPaths(options).tmp;
  await mkdir(join(path, ".."), { recursive: true });
  await mkdir(tmp, { recursive: true });
  const file = join(tmp, ownedName("handle"));
  const body = {
    schemaVersion: 1,
    handle: options.handle,
    digest: options.digest,
    updatedAt: new Date().toISOString(),
  };
  await writeFileAtomic(path, JSON.stringify(body), { temp: file });
}
