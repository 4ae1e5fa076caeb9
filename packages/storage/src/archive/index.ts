export {
  type ArchiveCompression,
  type Compression,
  DEFAULT_COMPRESSION,
  DEFAULT_GZIP_LEVEL,
} from "./default-compression.js";
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "./default-extract-limits.js";
export { entryPathProblem } from "./entry-path-problem.js";
export { type ExtractArchiveOptions, extractArchive, verifyArchive } from "./extract-archive.js";
export {
  type ManifestEntry,
  ManifestWriter,
  manifestDigest,
  manifestLine,
  readManifestEntries,
} from "./manifest.js";
export { type PackFolderOptions, type PackResult, packFolder } from "./pack-folder.js";
export { type FolderEntry, type WalkFolderOptions, walkFolder } from "./walk-folder.js";
