import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    globalSetup: [
      "../../tools/s3-server/global-setup.ts",
      "./src/run-setup.ts",
      "../../tools/temp-dir/global-setup.ts",
    ],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // Reliability tests spawn many processes; run files one at a time on 2 cores.
    fileParallelism: false,
    reporters: reporters("reliability"),
  },
});
