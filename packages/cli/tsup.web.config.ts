import { defineConfig } from "tsup";

/**
 * The dashboard's page (web/src, Preact + Chart.js) bundled for the browser into
 * dist/dashboard/: app.js and app.css, served by the CLI itself (no CDN, works offline).
 */
export default defineConfig({
  entry: { app: "web/src/main.tsx" },
  outDir: "dist/dashboard",
  format: ["esm"],
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: false,
  splitting: false,
  dts: false,
  clean: true,
  tsconfig: "web/tsconfig.json",
  noExternal: [/.*/],
  esbuildOptions(options) {
    options.jsx = "automatic";
    options.jsxImportSource = "preact";
    options.legalComments = "linked";
  },
});
