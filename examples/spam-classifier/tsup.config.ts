import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", plugin: "src/plugin.ts", demo: "src/demo.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  clean: true,
  sourcemap: true,
});
