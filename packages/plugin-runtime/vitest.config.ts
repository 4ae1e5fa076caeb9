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
    // A temp root of the run's own (TMPDIR), deleted after it.
    globalSetup: ["../../tools/temp-dir/global-setup.ts"],
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    testTimeout: 60_000,

    reporters: reporters("plugin-runtime"),
  },
});
