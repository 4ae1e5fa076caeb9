import type { Options } from "tsup";

/** Shared tsup settings: ESM-only, Node 20 target, declarations, source maps. */
export function baseConfig(entry: Record<string, string>, extra: Partial<Options> = {}): Options {
  return {
    entry,
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: { compilerOptions: { composite: false } },
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    tsconfig: "tsconfig.build.json",
    ...extra,
  };
}
