import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CheckpointRef } from "@trainable/core";
import { errno } from "../util/errno.js";
import { ownedName } from "./entry-paths.js";
import { type FileFingerprint, isFingerprint } from "./file-fingerprint.js";
import { manifestDigest } from "./manifest-digest.js";

/**
 * The completion marker `<hex>.complete.json`, written last: an entry without one is
 * incomplete. It holds the checkpoint's ref (so the entry can be served offline), the byte
 * total, a token identifying this install, the fingerprint of each file as installed (for
 * `verify: "stat"`), and a sha256 over all of that.
 */
export interface EntryMarker {
  schemaVersion: 1;
  digest: string;
  /** Sum of the sizes of the extracted files. */
  bytes: number;
  /** A random id of this install, so "verified by this process" never carries over a repair. */
  token: string;
  completedAt: string;
  ref: CheckpointRef;
  /**
   * `lstat` fingerprints of the files whose content was verified (by the store while
   * extracting, or by hashing), taken once the file system clock had moved past their ctime.
   * A file without one is hashed by `verify: "stat"`.
   */
  fingerprints?: FileFingerprint[];
  /** sha256 (hex) of the canonical JSON of every field above. */
  sha256: string;
}

type MarkerBody = Omit<EntryMarker, "sha256">;

function checksum(body: MarkerBody): string {
  const fields: unknown[] = [
    body.schemaVersion,
    body.digest,
    body.bytes,
    body.token,
    body.completedAt,
    body.ref,
  ];
  if (body.fingerprints !== undefined) {
    fields.push(
      Array.isArray(body.fingerprints)
        ? body.fingerprints.map((f) => [f?.path, f?.size, f?.ino, f?.mtimeNs, f?.ctimeNs])
        : body.fingerprints,
    );
  }
  const canonical = JSON.stringify(fields);
  return createHash("sha256").update(canonical).digest("hex");
}

export type MarkerRead =
  | { state: "missing" }
  | { state: "bad"; reason: string }
  | { state: "ok"; marker: EntryMarker };

/** Reads and checks a marker: well-formed, self-consistent, and for `digest`. */
export async function readMarker(path: string, digest: string): Promise<MarkerRead> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return { state: "missing" };
    throw error;
  }
  let raw: Partial<EntryMarker>;
  try {
    raw = JSON.parse(text) as Partial<EntryMarker>;
  } catch {
    return { state: "bad", reason: "its completion marker is not valid JSON" };
  }
  if (!raw || typeof raw !== "object" || raw.schemaVersion !== 1) {
    return { state: "bad", reason: "its completion marker has an unknown format" };
  }
  if (
    !raw.ref ||
    typeof raw.digest !== "string" ||
    typeof raw.bytes !== "number" ||
    typeof raw.token !== "string" ||
    typeof raw.completedAt !== "string" ||
    typeof raw.sha256 !== "string"
  ) {
    return { state: "bad", reason: "its completion marker is missing fields" };
  }
  // The checksum covers the ref as written (before parsing, which may drop unknown fields).
  if (checksum(raw as EntryMarker) !== raw.sha256) {
    return { state: "bad", reason: "its completion marker fails its checksum" };
  }
  if (
    raw.fingerprints !== undefined &&
    (!Array.isArray(raw.fingerprints) || !raw.fingerprints.every(isFingerprint))
  ) {
    return { state: "bad", reason: "its completion marker holds malformed file fingerprints" };
  }
  const parsed = CheckpointRef.safeParse(raw.ref);
  if (!parsed.success)
    return { state: "bad", reason: "its completion marker holds a malformed ref" };
  const marker = { ...(raw as EntryMarker), ref: parsed.data };
  if (marker.digest !== digest || marker.ref.digest !== digest) {
    return { state: "bad", reason: `its completion marker is for ${marker.digest}, not ${digest}` };
  }
  if (manifestDigest(marker.ref.files, marker.ref.directories) !== digest) {
    return {
      state: "bad",
      reason: "its completion marker lists files that do not match the digest",
    };
  }
  const bytes = marker.ref.files.reduce((sum, file) => sum + file.size, 0);
  if (bytes !== marker.bytes)
    return { state: "bad", reason: "its completion marker miscounts its bytes" };
  return { state: "ok", marker };
}

/**
 * Writes a marker atomically (temp file in `tmpDir`, then rename over `path`): a new install
 * (new token), or with `previous`, the same install with new `fingerprints`.
 */
export async function writeMarker(options: {
  path: string;
  tmpDir: string;
  ref: CheckpointRef;
  now: Date;
  fingerprints: FileFingerprint[];
  previous?: EntryMarker;
}): Promise<EntryMarker> {
  const body: MarkerBody = {
    schemaVersion: 1,
    digest: options.ref.digest,
    bytes: options.ref.files.reduce((sum, file) => sum + file.size, 0),
    token: options.previous?.token ?? randomUUID(),
    completedAt: options.previous?.completedAt ?? options.now.toISOString(),
    ref: options.ref,
    fingerprints: options.fingerprints,
  };
  const marker: EntryMarker = { ...body, sha256: checksum(body) };
  await mkdir(options.tmpDir, { recursive: true });
  const tmp = join(options.tmpDir, ownedName("marker"));
  await writeFile(tmp, JSON.stringify(marker));
  try {
    await rename(tmp, options.path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return marker;
}
