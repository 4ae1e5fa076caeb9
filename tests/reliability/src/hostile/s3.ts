import type { RemoteBackend } from "@trainable/storage";
import { createS3Backend, type S3BackendOptions } from "@trainable/storage/s3";
import { getS3TestConfig } from "../../../../tools/s3-server/s3-test-env.js";

/** The S3 settings of this run, under a sub-prefix of the run's prefix. */
export function s3Settings(subPrefix: string) {
  const config = getS3TestConfig();
  return {
    endpoint: config.endpoint,
    region: config.region,
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    bucket: config.bucket,
    prefix: `${config.prefix}${subPrefix.replace(/\/?$/, "/")}`,
  };
}

/** An S3 backend on the run's server (or on `endpoint`, e.g. a fault proxy in front of it). */
export function s3Backend(
  subPrefix: string,
  overrides: Partial<S3BackendOptions> = {},
): RemoteBackend {
  const s = s3Settings(subPrefix);
  return createS3Backend({
    bucket: s.bucket,
    prefix: s.prefix,
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    ...overrides,
  });
}
