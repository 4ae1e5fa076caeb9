import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    // A first start installs redis-server with apt (~10 s).
    hookTimeout: 120_000,
    // Starts (or reuses) our own redis-server (AOF on) and provides `inject("redis")`; throws
    // when no Redis can be had, so the tests fail instead of skipping. Child worker processes
    // run the built dist, built here when older than src.
    globalSetup: [
      "../../tools/redis-server/global-setup.ts",
      "./test/setup/build-dist.ts",
      "../../tools/temp-dir/global-setup.ts",
    ],
    // Worker processes and Redis are shared machine resources: one file at a time.
    fileParallelism: false,
    reporters: reporters("engine-bullmq"),
  },
});
