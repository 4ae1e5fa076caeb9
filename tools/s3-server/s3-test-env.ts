import { inject } from "vitest";
import type { S3TestConfig } from "./s3-test-config.js";

export type { S3TestConfig } from "./s3-test-config.js";

function fromEnv(): S3TestConfig | undefined {
  const env = process.env;
  if (
    !env.TRAINABLE_TEST_S3_ENDPOINT ||
    !env.TRAINABLE_TEST_S3_ACCESS_KEY ||
    !env.TRAINABLE_TEST_S3_SECRET_KEY ||
    !env.TRAINABLE_TEST_S3_BUCKET ||
    !env.TRAINABLE_TEST_S3_PREFIX
  ) {
    return undefined;
  }
  return {
    endpoint: env.TRAINABLE_TEST_S3_ENDPOINT,
    accessKeyId: env.TRAINABLE_TEST_S3_ACCESS_KEY,
    secretAccessKey: env.TRAINABLE_TEST_S3_SECRET_KEY,
    region: env.TRAINABLE_TEST_S3_REGION || "us-east-1",
    forcePathStyle: true,
    bucket: env.TRAINABLE_TEST_S3_BUCKET,
    prefix: env.TRAINABLE_TEST_S3_PREFIX,
  };
}

/**
 * The S3 server of this test run, from `tools/s3-server/global-setup.ts` (via vitest's
 * `inject("s3")`, or the `TRAINABLE_TEST_S3_*` variables it exports to workers). Throws when
 * the global setup is not registered: S3 tests must fail, never skip.
 */
export function getS3TestConfig(): S3TestConfig {
  let config: S3TestConfig | undefined;
  try {
    config = inject("s3");
  } catch {
    // not inside a vitest worker: fall back to the environment
  }
  config ??= fromEnv();
  if (!config) {
    throw new Error(
      '[s3-server] No S3 test server: add "tools/s3-server/global-setup.ts" to test.globalSetup in vitest.config.ts',
    );
  }
  return config;
}
