import { link, rename, rmdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { errno, fsyncPath } from "@trainable/internal-node";
import { normalizeEtag } from "../normalize-etag.js";
import { PreconditionFailedError } from "../precondition-failed-error.js";
import type { ObjectInfo, PutOptions } from "../types.js";
import { etagOf, FILE_BACKEND_NAME, type FileContext, infoOf, statFile } from "./file-context.js";
import { withFileLock } from "./file-lock.js";
import { writeTemp } from "./temp-files.js";

/** Moves the written temp file to `file`: `link` for create-only, else `rename` under the key's lock. */
async function place(
  ctx: FileContext,
  key: string,
  paths: { temp: string; file: string },
  options: PutOptions,
): Promise<void> {
  const { temp, file } = paths;
  if (options.ifNoneMatch === "*") {
    try {
      await link(temp, file);
    } catch (error) {
      if (errno(error) === "EEXIST") throw new PreconditionFailedError(key);
      throw error;
    }
    await unlink(temp);
    return;
  }
  await withFileLock(
    ctx.lockPathOf(file),
    async () => {
      if (options.ifMatch !== undefined) {
        const current = await statFile(file);
        if (current === undefined || etagOf(current) !== normalizeEtag(options.ifMatch)) {
          throw new PreconditionFailedError(key);
        }
      }
      await rename(temp, file);
    },
    { ...ctx.lockOptions, component: FILE_BACKEND_NAME, what: `"${key}"`, signal: options.signal },
  );
}

/** A put: the body goes to a temp file in the key's folder, which then moves into place. */
export async function putFile(
  ctx: FileContext,
  key: string,
  body: Readable | Uint8Array,
  options: PutOptions,
): Promise<ObjectInfo> {
  const file = ctx.pathOf(key);
  // Cheap early refusal; the `link` is what makes create-only atomic.
  if (options.ifNoneMatch === "*" && (await statFile(file))) {
    throw new PreconditionFailedError(key);
  }
  const { temp, st, release } = await writeTemp(dirname(file), body, {
    ...options,
    fsync: ctx.fsync,
  });
  try {
    await place(ctx, key, { temp, file }, options);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  } finally {
    release();
  }
  if (ctx.fsync) await fsyncPath(dirname(file));
  return infoOf(key, st);
}

async function removeEmptyParents(root: string, file: string): Promise<void> {
  for (let dir = dirname(file); dir.length > root.length && dir.startsWith(root); ) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
    dir = dirname(dir);
  }
}

/** Deletes a key under its lock, then the folders it leaves empty. */
export async function deleteFile(
  ctx: FileContext,
  key: string,
  options: { signal?: AbortSignal },
): Promise<void> {
  const file = ctx.pathOf(key);
  if ((await statFile(file)) === undefined) return;
  try {
    await withFileLock(
      ctx.lockPathOf(file),
      async () => {
        await unlink(file).catch((error) => {
          if (errno(error) !== "ENOENT") throw error;
        });
      },
      {
        ...ctx.lockOptions,
        component: FILE_BACKEND_NAME,
        what: `"${key}"`,
        signal: options.signal,
      },
    );
  } catch (error) {
    // The folder vanished (a concurrent delete emptied it): the key is gone too.
    if (errno(error) !== "ENOENT") throw error;
  }
  await removeEmptyParents(ctx.root, file);
}
