import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 240_000,
    // Each file starts servers of its own; one at a time on 2 cores.
    fileParallelism: false,
    reporters: reporters("test-servers"),
  },
});
