import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    // A temp root of the run's own (TMPDIR), deleted after it.
    globalSetup: ["../../tools/temp-dir/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    reporters: reporters("custom-backend"),
  },
});
