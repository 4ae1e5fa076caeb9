import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", "service/main": "src/service/main.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  clean: true,
  sourcemap: true,
});
