// `pnpm bench:check`: checks that the benchmark docs are the ones the committed run produces.
//   - docs/benchmarks-notes.md must equal bench/notes.template.md rendered with
//     bench/results/latest.json: every figure in the notes comes from a placeholder, every
//     `{{expect:…}}` holds, every missed target is addressed, and the template has no bare
//     number (see bench/render.mjs for the rules);
//   - docs/benchmarks.md must equal the rendering of bench/results/latest.json.
// Reads three files and writes nothing; Node built-ins only, no build needed.
//   node bench/check-notes.mjs [--write]   (--write: re-render both docs from latest.json)
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderBenchmarks, renderNotes } from "./render.mjs";

const root = join(import.meta.dirname, "..");
const read = (p) => readFileSync(join(root, p), "utf8");
const results = JSON.parse(read("bench/results/latest.json"));
const notes = renderNotes(read("bench/notes.template.md"), results);
const benchmarks = renderBenchmarks(results);
const problems = [...notes.problems];

if (process.argv.includes("--write")) {
  writeFileSync(join(root, "docs/benchmarks-notes.md"), notes.text);
  writeFileSync(join(root, "docs/benchmarks.md"), benchmarks);
} else {
  for (const [file, want] of [
    ["docs/benchmarks-notes.md", notes.text],
    ["docs/benchmarks.md", benchmarks],
  ]) {
    const have = read(file);
    if (have === want) continue;
    const a = have.split("\n");
    const b = want.split("\n");
    const line = a.findIndex((l, i) => l !== b[i]);
    problems.push(
      `${file} differs from its rendering of bench/results/latest.json, first at line ${line + 1}:\n    file:     ${JSON.stringify(a[line] ?? "(end)")}\n    rendered: ${JSON.stringify(b[line] ?? "(end)")}\n  (regenerate with \`node bench/check-notes.mjs --write\` after editing bench/notes.template.md, or rerun \`pnpm bench\`)`,
    );
  }
}

if (problems.length) {
  console.error(`bench:check: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`- ${p}`);
  process.exit(1);
}
console.log(
  process.argv.includes("--write")
    ? "bench:check: wrote docs/benchmarks.md and docs/benchmarks-notes.md from bench/results/latest.json"
    : "bench:check: docs/benchmarks.md and docs/benchmarks-notes.md match bench/results/latest.json",
);
