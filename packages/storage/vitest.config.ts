import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    // Starts (or reuses) the local radosgw S3 server and provides `inject("s3")`; throws when
    // no S3 server can be had, so S3 tests fail instead of skipping.
    globalSetup: ["../../tools/s3-server/global-setup.ts"],
    testTimeout: 60_000,
    // A cold radosgw start, apt install included, takes ~40-60 s.
    hookTimeout: 180_000,
    reporters: reporters("storage"),
  },
});
