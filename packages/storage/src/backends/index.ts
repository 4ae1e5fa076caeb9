export {
  type CreateBackendOptions,
  createBackend,
  type S3UrlOverrides,
} from "./create-backend.js";
export {
  type BackendDefinition,
  type BackendDriver,
  defineBackend,
  type OperationContext,
} from "./define-backend.js";
export {
  createFileBackend,
  FILE_BACKEND_NAME,
  type FileBackendOptions,
} from "./file/file-backend.js";
export {
  createMemoryBackend,
  MEMORY_BACKEND_NAME,
  type MemoryBackendOptions,
} from "./memory/memory-backend.js";
export { PreconditionFailedError } from "./precondition-failed-error.js";
export type { S3ConditionalWrites } from "./s3/s3-conditional-writes.js";
export type { S3ClientLike, S3Credentials } from "./s3/s3-options.js";
export type {
  BackendCapabilities,
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutOptions,
  RemoteBackend,
} from "./types.js";
