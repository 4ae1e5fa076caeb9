// docs/reliability.md, from ONE run of the reliability suite.
//
//   node scripts/write-report.mjs              regenerate the report from the newest run
//   node scripts/write-report.mjs --run <id>   … from that run (.results/runs/<id>.jsonl)
//   node scripts/write-report.mjs --note "…"   … with a note under the run line (e.g. why CI counts)
//   node scripts/write-report.mjs --runs       list the recorded runs
//   node scripts/write-report.mjs --check      fail unless docs/reliability.md lists every case
//                                              of the suite (CI: `pnpm reliability:check`)
//
// The suite's cases are declared once in src/cases.json (id, area, name, backends); tests
// record under those ids (recordCase refuses any other). --check compares three things:
//   1. src/cases.json against the test sources: every case listed is recorded by some test
//      source, and every case id a source names is listed;
//   2. src/cases.json against the report: one row per case and backend, no row for a case the
//      suite does not have, no row marked "not run";
//   3. the report says which single run it was made from.
// Generation rewrites the whole file from the chosen run's rows; a case the run did not record
// is listed as "not run" and the script exits 1 (so a partial run cannot pass for a full one).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const repo = join(root, "..", "..");
const reportPath = join(repo, "docs", "reliability.md");
const resultsDir = join(root, ".results");
const catalog = JSON.parse(readFileSync(join(root, "src", "cases.json"), "utf8"));
const NOT_RUN = "not run in this run";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : (args[i + 1] ?? "");
};

/** Every (case, backend) pair the suite has, in catalog order. */
function expectedRows() {
  return catalog.cases.flatMap((c) => c.backends.map((backend) => ({ ...c, backend })));
}

const cell = (text) => String(text).replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
const uncell = (text) => text.trim().replace(/\\\|/g, "|");
const rowKey = (name, backend) => `${name}\u0000${backend}`;
/** At most 12 items, then how many more. */
const some = (items) =>
  items.length > 12 ? [...items.slice(0, 12), `… and ${items.length - 12} more`] : items;

function title(area) {
  return `${area[0].toUpperCase()}${area.slice(1)}`;
}

function minutes(ms) {
  return `${(ms / 60_000).toFixed(1)} min`;
}

// ---------------------------------------------------------------------------------------------
// --runs

if (args.includes("--runs")) {
  const dir = join(resultsDir, "runs");
  const runs = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".json")) : [];
  for (const name of runs.sort()) {
    const meta = JSON.parse(readFileSync(join(dir, name), "utf8"));
    const rowsFile = join(dir, `${meta.id}.jsonl`);
    const rows = existsSync(rowsFile) ? readFileSync(rowsFile, "utf8").trim().split("\n") : [];
    console.log(
      `${meta.id}  ${meta.full ? "full" : "CI  "}  ${rows.filter(Boolean).length} rows  ${meta.wallMs ? minutes(meta.wallMs) : "(unfinished)"}  ${meta.args?.join(" ") ?? ""}`,
    );
  }
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// --check

if (args.includes("--check")) {
  const problems = [];
  // 1. The catalog and the test sources agree.
  const prefixes = [...new Set(catalog.cases.map((c) => c.id.split(".")[0]))];
  const idPattern = new RegExp(`["'\`]((?:${prefixes.join("|")})\\.[a-z0-9-]+)["'\`]`, "g");
  const named = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mts|mjs)$/.test(entry.name)) {
        for (const m of readFileSync(path, "utf8").matchAll(idPattern)) {
          if (!named.has(m[1])) named.set(m[1], relative(root, path));
        }
      }
    }
  };
  walk(join(root, "src"));
  const listed = new Set(catalog.cases.map((c) => c.id));
  for (const c of catalog.cases) {
    if (!named.has(c.id))
      problems.push(`src/cases.json lists "${c.id}", but no test source records it`);
  }
  for (const [id, where] of named) {
    if (!listed.has(id))
      problems.push(`${where} names case "${id}", which src/cases.json does not list`);
  }
  // 2. The report lists every case of the suite, once, and nothing else.
  if (!existsSync(reportPath)) {
    problems.push(`${relative(repo, reportPath)} does not exist`);
  } else {
    const text = readFileSync(reportPath, "utf8");
    const rows = new Map();
    for (const line of text.split("\n")) {
      if (!line.startsWith("| ") || line.startsWith("| case |")) continue;
      const cells = line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map(uncell);
      if (cells.length < 5) continue;
      const key = rowKey(cells[0], cells[1]);
      if (rows.has(key)) problems.push(`the report lists "${cells[0]}" (${cells[1]}) twice`);
      rows.set(key, cells);
    }
    const expected = expectedRows();
    const wanted = new Set(expected.map((r) => rowKey(r.case, r.backend)));
    for (const r of expected) {
      const row = rows.get(rowKey(r.case, r.backend));
      if (!row) problems.push(`the report has no row for "${r.case}" (${r.backend}) [${r.id}]`);
      else if (row[4].includes(NOT_RUN)) {
        problems.push(`the report's run did not run "${r.case}" (${r.backend}) [${r.id}]`);
      }
    }
    for (const [key, cells] of rows) {
      if (!wanted.has(key)) {
        problems.push(
          `the report has a row for "${cells[0]}" (${cells[1]}), which the suite does not have`,
        );
      }
    }
    // 3. One run.
    if (!/^Run: .*run id `[^`]+`/m.test(text)) {
      problems.push("the report does not name the single run it was generated from");
    }
  }
  if (problems.length > 0) {
    console.error(`${relative(repo, reportPath)} is out of date with the reliability suite:`);
    for (const p of some(problems)) console.error(`  - ${p}`);
    console.error(
      "Run the suite (`TRAINABLE_RELIABILITY_FULL=1 npx vitest run` in tests/reliability), then `node tests/reliability/scripts/write-report.mjs`.",
    );
    process.exit(1);
  }
  console.log(
    `${relative(repo, reportPath)}: all ${expectedRows().length} rows (${catalog.cases.length} cases) of the suite are listed`,
  );
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Generate

const latestFile = join(resultsDir, "latest.json");
const run =
  option("--run") ??
  (existsSync(latestFile) ? JSON.parse(readFileSync(latestFile, "utf8")).id : undefined);
if (!run) {
  console.error("no recorded run: run the reliability tests first");
  process.exit(1);
}
const metaFile = join(resultsDir, "runs", `${run}.json`);
const rowsFile = join(resultsDir, "runs", `${run}.jsonl`);
if (!existsSync(metaFile) || !existsSync(rowsFile)) {
  console.error(`run ${run} has no recorded cases (${relative(repo, rowsFile)})`);
  process.exit(1);
}
const meta = JSON.parse(readFileSync(metaFile, "utf8"));
const recorded = readFileSync(rowsFile, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => JSON.parse(line))
  .filter((r) => r.run === run);
const byKey = new Map();
const duplicates = [];
for (const r of recorded) {
  const key = rowKey(r.case, r.backend);
  if (byKey.has(key)) duplicates.push(`${r.case} (${r.backend})`);
  byKey.set(key, r);
}
const expected = expectedRows();
const missing = [];
const unknown = recorded.filter(
  (r) => !expected.some((e) => e.case === r.case && e.backend === r.backend),
);
const rows = expected.map((e) => {
  const r = byKey.get(rowKey(e.case, e.backend));
  if (!r) missing.push(`${e.case} (${e.backend}) [${e.id}]`);
  return { ...e, recorded: r };
});
const ran = rows.filter((r) => r.recorded);
const passed = ran.filter((r) => r.recorded.passed);
const full = meta.full === true;
const when = meta.finishedAt
  ? `started ${meta.startedAt}, finished ${meta.finishedAt} (wall time ${minutes(meta.wallMs)})`
  : `started ${meta.startedAt} (the run did not finish)`;
const lines = [
  "# Reliability",
  "",
  "Generated by `tests/reliability/scripts/write-report.mjs` from the rows of ONE run of the",
  "reliability suite (`tests/reliability`); do not edit by hand. CI runs smaller trial counts",
  "(`npx vitest run` in tests/reliability); `pnpm test:reliability` (TRAINABLE_RELIABILITY_FULL=1)",
  "runs the full counts and then regenerates this file from that run. `pnpm reliability:check`",
  "(part of `pnpm test:all`, hence CI) fails when this file does not list every case of the suite",
  "(`tests/reliability/src/cases.json`) or mixes runs.",
  "",
  `Run: ${full ? "full counts (TRAINABLE_RELIABILITY_FULL=1)" : "CI counts (not the full counts)"}, ${when}, node ${meta.node}; run id \`${run}\`; ${passed.length} of ${expected.length} rows passed${ran.length < expected.length ? `, ${expected.length - ran.length} not run` : ""}${ran.length - passed.length > 0 ? `, ${ran.length - passed.length} FAILED` : ""}.`,
  "",
  ...(option("--note") ? [`Note: ${option("--note")}`, ""] : []),
  'Messages in outcomes are complete; only long runs of one repeated unit are shortened, as `aaa…["a" ×300]`.',
  "",
];
for (const area of catalog.areas) {
  const inArea = rows.filter((r) => r.area === area);
  if (inArea.length === 0) continue;
  lines.push(
    `## ${title(area)}`,
    "",
    "| case | backend | how it is tested | trials | outcome |",
    "|---|---|---|---|---|",
  );
  for (const r of inArea) {
    const rec = r.recorded;
    lines.push(
      rec
        ? `| ${cell(r.case)} | ${cell(r.backend)} | ${cell(rec.method)} | ${rec.trials} | ${rec.passed ? "✅" : "❌"} ${cell(rec.outcome)} |`
        : `| ${cell(r.case)} | ${cell(r.backend)} | - | 0 | ❔ ${NOT_RUN} |`,
    );
  }
  lines.push("");
}
writeFileSync(reportPath, lines.join("\n"));
console.log(
  `${relative(repo, reportPath)}: run ${run} (${full ? "full" : "CI"} counts), ${ran.length} of ${expected.length} rows recorded, ${passed.length} passed`,
);
if (duplicates.length > 0) {
  console.error(
    `cases recorded more than once in this run (the last row is used): ${duplicates.join("; ")}`,
  );
}
if (unknown.length > 0) {
  console.error(`rows of cases the suite does not list: ${unknown.map((r) => r.case).join("; ")}`);
  process.exitCode = 1;
}
if (missing.length > 0) {
  console.error(
    `${missing.length} rows not recorded in this run (listed as "${NOT_RUN}"):\n  ${some(missing).join("\n  ")}`,
  );
  process.exitCode = 1;
}
