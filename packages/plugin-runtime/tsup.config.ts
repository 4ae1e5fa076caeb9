import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.base";

export default defineConfig(baseConfig({ index: "src/index.ts", engine: "src/engine-kit.ts" }));
