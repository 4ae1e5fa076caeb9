import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts", "../../tools/temp-dir/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: reporters("external-trainer"),
  },
});
