import { join } from "node:path";

/**
 * Reporters shared by every package: the default console output plus a JSON file in
 * `.vitest-results/` that scripts/test-summary.mjs adds up into the closing
 * "N passed, N failed" line of the full test run.
 */
export function reporters(
  name: string,
): NonNullable<import("vitest/node").InlineConfig["reporters"]> {
  return [
    "default",
    ["json", { outputFile: join(import.meta.dirname, ".vitest-results", `${name}.json`) }],
  ];
}
