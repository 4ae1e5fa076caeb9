import { validateId } from "@trainable/core";

/**
 * The key layout of a store. Everything of a plugin instance lives under its scope:
 *
 *   {workspace}/{pluginInstanceId}/blobs/sha256/{hex}.tar[.gz]        the archive (immutable)
 *   {workspace}/{pluginInstanceId}/blobs/sha256/{hex}.tar[.gz].json   its size + sha256 (immutable)
 *   {workspace}/{pluginInstanceId}/refs/{handle}/{seq}.json           ref versions (append-only)
 *
 * Ids and handles are validated (`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) before any key is built,
 * so no key can leave its scope.
 */
export interface Scope {
  workspace: string;
  pluginInstanceId: string;
}

export const SEQ_DIGITS = 12;

export function scopePrefix(scope: Scope): string {
  validateId(scope.workspace, "workspace");
  validateId(scope.pluginInstanceId, "pluginInstanceId");
  return `${scope.workspace}/${scope.pluginInstanceId}/`;
}

export function blobKey(scope: Scope, digest: string, compression: "none" | "gzip"): string {
  const hex = digest.startsWith("sha256:") ? digest.slice(7) : digest;
  if (!/^[a-f0-9]{64}$/.test(hex)) throw new Error(`[storage] bad digest "${digest}"`);
  return `${scopePrefix(scope)}blobs/sha256/${hex}${compression === "gzip" ? ".tar.gz" : ".tar"}`;
}

export function blobPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}blobs/sha256/`;
}

export function refsPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}refs/`;
}

export function refPrefix(scope: Scope, handle: string): string {
  return `${refsPrefix(scope)}${validateId(handle, "handle")}/`;
}

export function refVersionKey(scope: Scope, handle: string, seq: number): string {
  return `${refPrefix(scope, handle)}${String(seq).padStart(SEQ_DIGITS, "0")}.json`;
}

/** Parses `…/refs/{handle}/{seq}.json` relative to a refs prefix; undefined for anything else. */
export function parseRefVersionKey(
  key: string,
  prefix: string,
): { handle: string; seq: number } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/(\d{12})\.json$/.exec(rest);
  if (!m) return undefined;
  return { handle: m[1]!, seq: Number(m[2]) };
}
