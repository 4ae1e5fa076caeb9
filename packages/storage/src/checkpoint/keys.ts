import { randomBytes } from "node:crypto";
import type { Id } from "@trainable/core";
import type { ArchiveCompression } from "../archive/default-compression.js";

/**
 * The key layout of a store (format version 2). Everything of a plugin instance lives under
 * its scope `{workspace}/{pluginInstanceId}/`:
 *
 *   blobs/{id}.tar[.gz]                 an archive, written once under a fresh unique id
 *   blobs/{id}.manifest                 its manifest (canonical lines; sha256 = the digest)
 *   index/sha256/{hex}/{id}.json        "blob {id} holds checkpoint sha256:{hex}" (create-only)
 *   refs/{handle}/{version}.json        ref versions; `version` counts down (newest lists first)
 *   pins/{id}/{pin}.json                a save or setHandle about to reference blob {id}
 *   doomed/{id}.json                    a garbage collection may be deleting blob {id}
 *   quarantine/{id}.json                blob {id} failed verification
 *   gc/{run}.json                       a garbage collection in progress
 *
 * and the store's root holds `_trainable-store.json`, the format marker. Ids and handles are
 * validated before any key is built, so no key can leave its scope.
 */
/** Where a plugin instance's checkpoints live: ids checked once, where they came in. */
export interface Scope {
  workspace: Id;
  pluginInstanceId: Id;
}

export const FORMAT_MARKER_KEY = "_trainable-store.json";

/** Ref versions are stored as `MAX_SEQ - seq`, so the newest version lists first. */
export const MAX_SEQ = 999_999_999_999;
const SEQ_DIGITS = 12;

export function scopePrefix(scope: Scope): string {
  return `${scope.workspace}/${scope.pluginInstanceId}/`;
}

/** A fresh blob id: time-ordered, then random (`0m3x1k2a9-0123456789abcdef`). */
export function newBlobId(): string {
  return `${Date.now().toString(36).padStart(9, "0")}-${randomBytes(8).toString("hex")}`;
}

export function blobsPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}blobs/`;
}

export function blobKey(scope: Scope, id: string, compression: ArchiveCompression): string {
  return `${blobsPrefix(scope)}${id}${compression === "gzip" ? ".tar.gz" : ".tar"}`;
}

export function manifestKey(scope: Scope, id: string): string {
  return `${blobsPrefix(scope)}${id}.manifest`;
}

/** Parses a key under `blobs/`: an archive or a manifest of blob `id`. */
export function parseBlobsKey(
  key: string,
  scope: Scope,
): { id: string; kind: "archive" | "manifest"; compression?: ArchiveCompression } | undefined {
  const prefix = blobsPrefix(scope);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([0-9a-z]{9}-[0-9a-f]{16})\.(tar|tar\.gz|manifest)$/.exec(key.slice(prefix.length));
  if (!m) return undefined;
  if (m[2] === "manifest") return { id: m[1]!, kind: "manifest" };
  return { id: m[1]!, kind: "archive", compression: m[2] === "tar.gz" ? "gzip" : "none" };
}

export function indexRoot(scope: Scope): string {
  return `${scopePrefix(scope)}index/sha256/`;
}

export function indexPrefix(scope: Scope, digest: string): string {
  return `${indexRoot(scope)}${hexOf(digest)}/`;
}

export function indexKey(scope: Scope, digest: string, id: string): string {
  return `${indexPrefix(scope, digest)}${id}.json`;
}

/** Parses `index/sha256/{hex}/{id}.json`. */
export function parseIndexKey(
  key: string,
  scope: Scope,
): { digest: string; id: string } | undefined {
  const prefix = indexRoot(scope);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([a-f0-9]{64})\/([0-9a-z]{9}-[0-9a-f]{16})\.json$/.exec(key.slice(prefix.length));
  return m ? { digest: `sha256:${m[1]}`, id: m[2]! } : undefined;
}

export function refsPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}refs/`;
}

export function refPrefix(scope: Scope, handle: string): string {
  return `${refsPrefix(scope)}${handle}/`;
}

export function refVersionKey(scope: Scope, handle: string, seq: number): string {
  return `${refPrefix(scope, handle)}${String(MAX_SEQ - seq).padStart(SEQ_DIGITS, "0")}.json`;
}

/** Parses `refs/{handle}/{version}.json` (relative to the refs prefix). */
export function parseRefVersionKey(
  key: string,
  scope: Scope,
): { handle: string; seq: number } | undefined {
  const prefix = refsPrefix(scope);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/(\d{12})\.json$/.exec(key.slice(prefix.length));
  if (!m) return undefined;
  return { handle: m[1]!, seq: MAX_SEQ - Number(m[2]) };
}

export function pinsPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}pins/`;
}

export function pinKey(scope: Scope, id: string, pin: string): string {
  return `${pinsPrefix(scope)}${id}/${pin}.json`;
}

export function parsePinKey(key: string, scope: Scope): { id: string } | undefined {
  const prefix = pinsPrefix(scope);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([0-9a-z]{9}-[0-9a-f]{16})\/[0-9a-f]{16}\.json$/.exec(key.slice(prefix.length));
  return m ? { id: m[1]! } : undefined;
}

export function doomedPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}doomed/`;
}

export function doomKey(scope: Scope, id: string): string {
  return `${doomedPrefix(scope)}${id}.json`;
}

export function quarantinePrefix(scope: Scope): string {
  return `${scopePrefix(scope)}quarantine/`;
}

export function quarantineKey(scope: Scope, id: string): string {
  return `${quarantinePrefix(scope)}${id}.json`;
}

/** The blob id a marker key (`doomed/{id}.json`, `quarantine/{id}.json`) names. */
export function parseMarkerKey(key: string, prefix: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([0-9a-z]{9}-[0-9a-f]{16})\.json$/.exec(key.slice(prefix.length));
  return m ? m[1] : undefined;
}

export function gcPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}gc/`;
}

function hexOf(digest: string): string {
  const hex = digest.startsWith("sha256:") ? digest.slice(7) : digest;
  if (!/^[a-f0-9]{64}$/.test(hex)) throw new Error(`[storage] bad digest "${digest}"`);
  return hex;
}
