import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  test: {
    // A temp root of the run's own (TMPDIR), deleted after it.
    globalSetup: ["../../tools/temp-dir/global-setup.ts"],
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    // The dashboard's browser test waits on the page with expect.poll: generous on a loaded
    // machine (nothing asserts how long anything takes).
    expect: { poll: { timeout: 30_000, interval: 100 } },
    reporters: reporters("spam-classifier"),
  },
});
