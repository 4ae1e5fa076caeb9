import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.base";

export default defineConfig(
  baseConfig(
    { index: "src/index.ts", engine: "src/engine-kit.ts" },
    // The private helpers package is bundled in: the published package never depends on it.
    { noExternal: ["@trainable/internal-node"] },
  ),
);
