import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.base";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

export default defineConfig(
  baseConfig(
    {
      index: "src/index.ts",
      s3: "src/s3.ts",
      conformance: "src/conformance.ts",
      archive: "src/archive.ts",
    },
    // Recorded as `packageVersion` in the metadata of every checkpoint saved.
    {
      define: { __TRAINABLE_STORAGE_VERSION__: JSON.stringify(version) },
      // The private helpers package is bundled in: the published package never depends on it.
      noExternal: ["@trainable/internal-node"],
    },
  ),
);
