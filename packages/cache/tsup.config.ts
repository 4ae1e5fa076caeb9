import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.base";

export default defineConfig(
  // The private helpers package is bundled in: the published package never depends on it.
  baseConfig({ index: "src/index.ts" }, { noExternal: ["@trainable/internal-node"] }),
);
