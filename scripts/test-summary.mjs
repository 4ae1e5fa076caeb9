// Sums the JSON results every package's vitest run wrote to .vitest-results/ and prints the
// closing line CI reads ("N passed, N failed"). Exits non-zero when no test ran or any failed.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = join(import.meta.dirname, "..", ".vitest-results");
let passed = 0;
let failed = 0;
let skipped = 0;
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith(".json"));
} catch {}
for (const file of files) {
  const r = JSON.parse(readFileSync(join(dir, file), "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(
    `${file.replace(/\.json$/, "")}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`,
  );
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed === 0 || failed > 0) process.exit(1);
