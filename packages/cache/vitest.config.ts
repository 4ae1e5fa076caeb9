import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: [
      "./test/setup/build-test-dist.ts",
      "../../tools/s3-server/global-setup.ts",
      "../../tools/temp-dir/global-setup.ts",
    ],
    reporters: reporters("cache"),
  },
});
