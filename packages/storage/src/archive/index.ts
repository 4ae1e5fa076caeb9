export {
  type ArchiveCompression,
  type Compression,
  DEFAULT_COMPRESSION,
  DEFAULT_GZIP_LEVEL,
} from "./default-compression.js";
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "./default-extract-limits.js";
export { type ExtractArchiveOptions, extractArchive } from "./extract-archive.js";
export { manifestDigest } from "./manifest-digest.js";
export { type PackFolderOptions, packFolder } from "./pack-folder.js";
export {
  type FileFingerprint,
  type FolderScan,
  type ScanFolderOptions,
  scanFolder,
} from "./scan-folder.js";
