/**
 * Vitest `globalSetup`: child-process tests run plain `node` on fixtures that import the cache.
 * Builds `src/` once per run into `node_modules/.cache/trainable-cache-test/` (not `dist/`, which
 * other packages' builds and tests may be reading at the same moment), and checks that the
 * packages the children import from their `dist/` builds (`@trainable/core`,
 * `@trainable/storage`, built by turbo's `^build`) are there, building them when missing.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, "..", "..");
export const TEST_DIST = join(packageDir, "node_modules", ".cache", "trainable-cache-test");

export default async function setup(): Promise<void> {
  for (const dep of ["core", "storage"]) {
    const dir = join(packageDir, "..", dep);
    if (!existsSync(join(dir, "dist", "index.js"))) {
      process.stderr.write(`[cache tests] building @trainable/${dep} (dist missing)\n`);
      execFileSync("npx", ["tsup"], { cwd: dir, stdio: "inherit" });
    }
  }
  await build({
    entry: { index: join(packageDir, "src", "index.ts") },
    outDir: TEST_DIST,
    format: ["esm"],
    platform: "node",
    target: "node20",
    dts: false,
    sourcemap: false,
    clean: true,
    silent: true,
    external: ["@trainable/core", "lru-cache"],
  });
  process.env.TRAINABLE_CACHE_TEST_DIST = join(TEST_DIST, "index.js");
}
