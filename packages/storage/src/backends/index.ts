export {
  type CreateBackendOptions,
  createBackend,
  type S3Credentials,
  type S3UrlOverrides,
} from "./create-backend.js";
export { createFileBackend, FILE_BACKEND_NAME, type FileBackendOptions } from "./file-backend.js";
export {
  createMemoryBackend,
  MEMORY_BACKEND_NAME,
  type MemoryBackendOptions,
} from "./memory-backend.js";
export { normalizeEtag } from "./normalize-etag.js";
export { PreconditionFailedError } from "./precondition-failed-error.js";
export type { S3ConditionalWrites } from "./s3-conditional-writes.js";
export type {
  BackendCapabilities,
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutOptions,
  RemoteBackend,
} from "./types.js";
export { MAX_KEY_BYTES, validateKey, validatePrefix } from "./validate-key.js";
