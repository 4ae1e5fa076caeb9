import { join } from "node:path";
import { type Id, IntegrityError } from "@trainable/core";
import { HOST } from "@trainable/internal-node";

/**
 * The on-disk layout version; a new layout gets a new folder, never a migration in place
 * (v1: checkpoint format 1, the file list inside the ref; v2: checkpoint format 2, the
 * manifest in the completion marker). Entries of another layout are never read.
 */
export const LAYOUT_VERSION = "v2";

/**
 * Where one cached checkpoint lives:
 *
 *   <root>/v2/<workspace>/<pluginInstanceId>/<hex>/                 the extracted folder
 *   <root>/v2/<workspace>/<pluginInstanceId>/<hex>.complete.json    completion marker (written last)
 *   <root>/v2/<workspace>/<pluginInstanceId>/<hex>.lock             download lock (O_EXCL)
 *   <root>/v2/<workspace>/<pluginInstanceId>/<hex>.pins/            one file per live user
 *   <root>/v2/<workspace>/<pluginInstanceId>/handles/<handle>.json  last known digest of a handle
 *   <root>/v2/<workspace>/<pluginInstanceId>/.tmp/                  downloads in progress, trash
 */
export interface EntryPaths {
  /** `<workspace>/<pluginInstanceId>/<hex>`: a key for in-process bookkeeping. */
  key: string;
  hex: string;
  instanceDir: string;
  dir: string;
  marker: string;
  lock: string;
  pins: string;
  tmp: string;
}

/** The folder of one plugin instance's entries (ids checked where they came in). */
export function instanceDir(root: string, workspace: Id, pluginInstanceId: Id): string {
  return join(root, LAYOUT_VERSION, workspace, pluginInstanceId);
}

function digestHex(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match)
    throw new IntegrityError(`[cache] Malformed checkpoint digest ${JSON.stringify(digest)}`);
  return match[1] as string;
}

export function entryPaths(options: {
  root: string;
  workspace: Id;
  pluginInstanceId: Id;
  digest: string;
}): EntryPaths {
  const hex = digestHex(options.digest);
  const base = instanceDir(options.root, options.workspace, options.pluginInstanceId);
  return {
    key: `${options.workspace}/${options.pluginInstanceId}/${hex}`,
    hex,
    instanceDir: base,
    dir: join(base, hex),
    marker: join(base, `${hex}.complete.json`),
    lock: join(base, `${hex}.lock`),
    pins: join(base, `${hex}.pins`),
    tmp: join(base, ".tmp"),
  };
}

export function handlePath(options: {
  root: string;
  workspace: Id;
  pluginInstanceId: Id;
  handle: Id;
}): string {
  const base = instanceDir(options.root, options.workspace, options.pluginInstanceId);
  return join(base, "handles", `${options.handle}.json`);
}

/** `<prefix>.<host>.<pid>.<random>`: names a temp or pin file and says who made it. */
export function ownedName(prefix: string): string {
  return `${prefix}.${HOST}.${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
}

/** Parses a name made by {@link ownedName}. */
export function parseOwnedName(
  name: string,
): { prefix: string; host: string; pid: number } | undefined {
  const match = /^(.+)\.([A-Za-z0-9-]+)\.(\d+)\.[a-z0-9]+$/.exec(name);
  if (!match) return undefined;
  return { prefix: match[1] as string, host: match[2] as string, pid: Number(match[3]) };
}
