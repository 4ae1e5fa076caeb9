import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CheckpointManifest, CheckpointRef } from "@trainable/core";
import { errno, writeFileAtomic } from "@trainable/internal-node";
import { ownedName } from "./entry-paths.js";
import { type FileFingerprint, isFingerprint } from "./file-fingerprint.js";
import { manifestBytes, manifestProblem, parseManifest } from "./manifest-check.js";

/** The format of a completion marker (1: layout v1, the file list inside the ref). */
const MARKER_SCHEMA_VERSION = 2;

/**
 * The completion marker `<hex>.complete.json`, written last: an entry without one is
 * incomplete. It holds the checkpoint's ref and manifest (so the entry can be verified and
 * served offline, with no store call), the byte total, a token identifying this install, the
 * fingerprint of each file as installed (for `verify: "stat"`), and a sha256 over all of that.
 */
export interface EntryMarker {
  schemaVersion: typeof MARKER_SCHEMA_VERSION;
  digest: string;
  /** Sum of the sizes of the extracted files. */
  bytes: number;
  /** A random id of this install, so "verified by this process" never carries over a repair. */
  token: string;
  completedAt: string;
  ref: CheckpointRef;
  /**
   * The checkpoint's manifest (every file with its size and sha256, every directory), read
   * from the store after the download. Its v2 digest must be `digest`.
   */
  manifest: CheckpointManifest;
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

/** The manifest as the checksum sees it (whatever was read, well-formed or not). */
function canonicalManifest(manifest: unknown): unknown {
  const m = manifest as Partial<CheckpointManifest> | null;
  if (!m || typeof m !== "object") return m;
  return [
    Array.isArray(m.files) ? m.files.map((f) => [f?.path, f?.size, f?.sha256]) : m.files,
    m.directories,
  ];
}

/** The sha256 (hex) a marker with this body carries. Exported for tests. */
export function markerChecksum(body: MarkerBody): string {
  const fields: unknown[] = [
    body.schemaVersion,
    body.digest,
    body.bytes,
    body.token,
    body.completedAt,
    body.ref,
    canonicalManifest(body.manifest),
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
  if (!raw || typeof raw !== "object" || raw.schemaVersion !== MARKER_SCHEMA_VERSION) {
    return { state: "bad", reason: "its completion marker has an unknown format" };
  }
  if (
    !raw.ref ||
    !raw.manifest ||
    typeof raw.digest !== "string" ||
    typeof raw.bytes !== "number" ||
    typeof raw.token !== "string" ||
    typeof raw.completedAt !== "string" ||
    typeof raw.sha256 !== "string"
  ) {
    return { state: "bad", reason: "its completion marker is missing fields" };
  }
  // The checksum covers the ref and manifest as written (before parsing, which may drop
  // unknown fields).
  if (markerChecksum(raw as EntryMarker) !== raw.sha256) {
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
  const manifest = parseManifest(raw.manifest);
  if (!manifest)
    return { state: "bad", reason: "its completion marker holds a malformed manifest" };
  const marker: EntryMarker = { ...(raw as EntryMarker), ref: parsed.data, manifest };
  if (marker.digest !== digest || marker.ref.digest !== digest) {
    return { state: "bad", reason: `its completion marker is for ${marker.digest}, not ${digest}` };
  }
  // The manifest's v2 digest ties its file list to the digest, online or offline.
  const problem = manifestProblem(marker.ref, manifest);
  if (problem !== undefined) {
    return { state: "bad", reason: `its completion marker ${problem}` };
  }
  if (manifestBytes(manifest) !== marker.bytes)
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
  manifest: CheckpointManifest;
  now: Date;
  fingerprints: FileFingerprint[];
  previous?: EntryMarker;
}): Promise<EntryMarker> {
  const body: MarkerBody = {
    schemaVersion: MARKER_SCHEMA_VERSION,
    digest: options.ref.digest,
    bytes: manifestBytes(options.manifest),
    token: options.previous?.token ?? randomUUID(),
    completedAt: options.previous?.completedAt ?? options.now.toISOString(),
    ref: options.ref,
    manifest: options.manifest,
    fingerprints: options.fingerprints,
  };
  const marker: EntryMarker = { ...body, sha256: markerChecksum(body) };
  await mkdir(options.tmpDir, { recursive: true });
  const tmp = join(options.tmpDir, ownedName("marker"));
  await writeFileAtomic(options.path, JSON.stringify(marker), { temp: tmp });
  return marker;
}
