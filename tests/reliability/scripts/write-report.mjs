// Builds docs/reliability.md from the cases the last run recorded (.results/cases.jsonl).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const file = join(root, ".results", "cases.jsonl");
if (!existsSync(file)) {
  console.error("no recorded cases: run the reliability tests first");
  process.exit(1);
}
const rows = readFileSync(file, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));
// Keep the latest row per (area, case, backend).
const latest = new Map();
for (const r of rows) latest.set(`${r.area}|${r.case}|${r.backend ?? ""}`, r);
const areas = [
  "crash safety",
  "concurrency",
  "corruption",
  "hostile archives",
  "hostile requests",
  "remote faults",
  "scope isolation",
];
const all = [...latest.values()];
const full = all.some((r) => r.full);
const lines = [
  "# Reliability",
  "",
  "Generated from the last run of the reliability suite (`tests/reliability`) by",
  "`tests/reliability/scripts/write-report.mjs`; do not edit by hand. CI runs smaller trial",
  "counts; `pnpm test:reliability` runs the full counts.",
  "",
  `Run: ${full ? "full counts (pnpm test:reliability)" : "CI counts"}, ${new Date(Math.max(...all.map((r) => Date.parse(r.at)))).toISOString()}; ${all.filter((r) => r.passed).length} of ${all.length} cases passed.`,
  "",
];
for (const area of areas) {
  const rs = all.filter((r) => r.area === area);
  if (!rs.length) continue;
  lines.push(
    `## ${area[0].toUpperCase()}${area.slice(1)}`,
    "",
    "| case | backend | how it is tested | trials | outcome |",
    "|---|---|---|---|---|",
  );
  for (const r of rs) {
    lines.push(
      `| ${r.case} | ${r.backend ?? "-"} | ${r.method} | ${r.trials} | ${r.passed ? "✅" : "❌"} ${r.outcome} |`,
    );
  }
  lines.push("");
}
writeFileSync(join(root, "..", "..", "docs", "reliability.md"), lines.join("\n"));
console.log(`docs/reliability.md: ${all.length} cases`);
