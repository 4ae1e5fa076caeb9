/** Bounds on what `extractArchive` accepts from an archive. */
export interface ExtractLimits {
  /** Sum of the sizes of all files in the archive, in bytes. */
  maxTotalBytes: number;
  /** Number of file and directory entries (extended headers are not counted). */
  maxEntries: number;
  /** Length of one entry path in UTF-8 bytes. */
  maxPathLength: number;
}

/** 64 GiB, one million entries, 4096-byte paths (Linux PATH_MAX). */
export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxTotalBytes: 64 * 1024 ** 3,
  maxEntries: 1_000_000,
  maxPathLength: 4096,
});
