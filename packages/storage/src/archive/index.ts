export {
  type ArchiveCompression,
  type Compression,
  DEFAULT_COMPRESSION,
  DEFAULT_GZIP_LEVEL,
} from "./default-compression.js";
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "./default-extract-limits.js";
