/**
 * `@trainable/storage/s3`: the S3 backend. A separate entry so that the AWS SDK
 * (`@aws-sdk/client-s3`, `@aws-sdk/lib-storage`, optional peer dependencies) is loaded only
 * by those who use S3; `createBackend("s3://…")` imports it on demand.
 */
export { createS3Backend } from "./backends/s3/s3-backend.js";
export type { S3ConditionalWrites } from "./backends/s3/s3-conditional-writes.js";
export {
  S3_BACKEND_NAME,
  type S3BackendOptions,
  type S3ClientLike,
  type S3Credentials,
} from "./backends/s3/s3-options.js";
