import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    // The real S3 server (radosgw) for `checkpoints import s3://…`: started or reused, never
    // skipped (setup fails when no server can be had).
    globalSetup: ["../../tools/s3-server/global-setup.ts"],
    testTimeout: 60_000,
    // A cold radosgw start, apt install included, takes ~40-60 s.
    hookTimeout: 180_000,
    reporters: reporters("cli"),
  },
});
