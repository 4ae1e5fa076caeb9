import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  resolve: {
    // Test fixtures (plain .mjs, shared with the crash test's child process) import the
    // package by name: in vitest that is the source.
    alias: {
      "@trainable/plugin-runtime": fileURLToPath(new URL("./src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    testTimeout: 60_000,
    // The real S3 server (radosgw) some tests put behind a proxy they can cut.
    globalSetup: ["../../tools/s3-server/global-setup.ts"],
    hookTimeout: 180_000,
    reporters: reporters("plugin-runtime"),
  },
});
