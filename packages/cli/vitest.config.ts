import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

export default defineConfig({
  // As tsup injects it in the build (see tsup.config.ts).
  define: { __TRAINABLE_CLI_VERSION__: JSON.stringify(version) },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    // The real S3 server (radosgw) for `checkpoints import s3://…`: started or reused, never
    // skipped (setup fails when no server can be had).
    // Our own redis-server (AOF on) for `worker` and `--queue`: started or reused, never skipped.
    globalSetup: [
      "../../tools/s3-server/global-setup.ts",
      "../../tools/redis-server/global-setup.ts",
      "../../tools/temp-dir/global-setup.ts",
    ],
    testTimeout: 60_000,
    // A cold radosgw start, apt install included, takes ~40-60 s.
    hookTimeout: 180_000,
    reporters: reporters("cli"),
  },
});
