import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    // A temp root of the run's own (TMPDIR), deleted after it.
    globalSetup: ["../../tools/temp-dir/global-setup.ts"],
    include: ["src/**/*.test.ts"],
    testTimeout: 240_000,
    // Each file starts servers of its own; one at a time on 2 cores.
    fileParallelism: false,
    reporters: reporters("test-servers"),
  },
});
