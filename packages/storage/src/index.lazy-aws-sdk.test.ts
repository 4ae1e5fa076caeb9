import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const srcDir = dirname(fileURLToPath(import.meta.url));

/** Static (non-type, non-dynamic) import specifiers of a source file. */
function staticImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const out: string[] = [];
  const pattern = /^\s*(import|export)\s+(type\s+)?[^;]*?\s+from\s+"([^"]+)";/gms;
  for (const m of source.matchAll(pattern)) {
    if (m[2]) continue; // import type / export type: erased
    out.push(m[3]!);
  }
  for (const m of source.matchAll(/^\s*import\s+"([^"]+)";/gm)) out.push(m[1]!);
  return out;
}

function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const imports = staticImports(file);
    seen.set(file, imports);
    for (const spec of imports) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
    }
  };
  visit(entry);
  return seen;
}

describe("the AWS SDK stays out of the main entry", () => {
  it.each(["index.ts", "archive.ts", "conformance.ts"])(
    "no module statically reachable from %s imports @aws-sdk",
    (entry) => {
      const graph = reachable(join(srcDir, entry));
      expect(graph.size).toBeGreaterThan(3);
      for (const [file, imports] of graph) {
        for (const spec of imports)
          expect(spec.startsWith("@aws-sdk/"), `${file} → ${spec}`).toBe(false);
      }
      expect([...graph.keys()].some((f) => f.endsWith("s3-backend.ts"))).toBe(false);
    },
  );

  it("the main entry reaches the backends (the walk follows its re-exports)", () => {
    const graph = reachable(join(srcDir, "index.ts"));
    expect([...graph.keys()].some((f) => f.endsWith("file-backend.ts"))).toBe(true);
  });

  it("the s3 entry does import it", () => {
    const graph = reachable(join(srcDir, "s3.ts"));
    const all = [...graph.values()].flat();
    expect(all).toContain("@aws-sdk/client-s3");
    expect(all).toContain("@aws-sdk/lib-storage");
  });
});
