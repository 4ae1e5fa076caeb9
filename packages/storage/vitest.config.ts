import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

export default defineConfig({
  // As tsup injects it in the build (see tsup.config.ts).
  define: { __TRAINABLE_STORAGE_VERSION__: JSON.stringify(version) },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    // Starts (or reuses) the local radosgw S3 server and provides `inject("s3")`; throws when
    // no S3 server can be had, so S3 tests fail instead of skipping.
    // Then a temp root of the run's own, deleted after it.
    globalSetup: ["../../tools/s3-server/global-setup.ts", "../../tools/temp-dir/global-setup.ts"],
    testTimeout: 60_000,
    // A cold radosgw start, apt install included, takes ~40-60 s.
    hookTimeout: 180_000,
    reporters: reporters("storage"),
  },
});
