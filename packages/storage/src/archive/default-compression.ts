/** How a checkpoint archive is compressed. Matches `CheckpointRef.compression`. */
export type ArchiveCompression = "none" | "gzip";

/** Alias of `ArchiveCompression`. */
export type Compression = ArchiveCompression;

/**
 * Archives are not compressed unless asked. Measured on a 2-core machine with Node 20
 * (docs: /work/shared/reference/perf.md): model weights do not compress (gzip ratio 1.00 on a
 * 1 GiB incompressible file) and gzip runs at ~22–34 MiB/s at any level, while a plain node-tar
 * stream moves ~1.1 GiB/s (GNU `tar -cf` ≈ 1 GiB/s). node-tar with `gzip: true` took 39 s for
 * 1 GiB against 0.93 s uncompressed — about 40× slower than the disk. Offer gzip (level 1) for
 * slow links only.
 */
export const DEFAULT_COMPRESSION: ArchiveCompression = "none";

/** Gzip level used when compression is "gzip" and no level is given: the fastest one. */
export const DEFAULT_GZIP_LEVEL = 1;
