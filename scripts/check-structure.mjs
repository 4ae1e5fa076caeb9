// Structure rules of the packages' sources: no file over 350 lines and no function over 120
// lines (tests excluded), and the test placement rule: a test inside `src/` sits beside the
// module it is about and is named after it (`foo.test.ts`, `foo.<aspect>.test.ts` or
// `foo.test-d.ts` beside `foo.ts`; `index.test.ts` for a folder's entry); tests of a whole
// package (its public API, servers, several modules at once) live in `test/`; the placement
// rule also applies to the examples.
// Usage: node scripts/check-structure.mjs [package-dir ...] (default: every packages/*).
// Exits 1 and lists each offender when a rule is broken.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";

const MAX_FILE_LINES = 350;
const MAX_FUNCTION_LINES = 120;
const root = join(import.meta.dirname, "..");
const isTest = (name) => /\.test(-d)?\.ts$/.test(name) || name === "__fixtures__";

function* testFiles(dir) {
  for (const name of readdirSync(dir)) {
    if (name === "__fixtures__") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* testFiles(path);
    else if (/\.test(-d)?\.ts$/.test(name)) yield path;
  }
}

/** The module a test in `src/` is named after: `a/foo.bar.test.ts` → `a/foo.ts` (or .tsx). */
function moduleOf(test) {
  const parts = test
    .slice(dirname(test).length + 1)
    .replace(/\.test(-d)?\.ts$/, "")
    .split(".");
  return parts
    .map((_, i) => join(dirname(test), parts.slice(0, i + 1).join(".")))
    .find((stem) => existsSync(`${stem}.ts`) || existsSync(`${stem}.tsx`));
}

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    if (isTest(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) yield path;
  }
}

const packageDirs =
  process.argv.length > 2
    ? process.argv.slice(2).map((p) => join(process.cwd(), p))
    : readdirSync(join(root, "packages")).map((d) => join(root, "packages", d));
const problems = [];
/** The placement rule, for a package or an example. */
function checkPlacement(dir) {
  let tests;
  try {
    tests = [...testFiles(join(dir, "src"))];
  } catch {
    return;
  }
  for (const test of tests) {
    if (!moduleOf(test)) {
      problems.push(
        `${relative(root, test)}: a test in src/ must be named after the module beside it (foo.test.ts or foo.<aspect>.test.ts beside foo.ts); move tests of the whole package to test/`,
      );
    }
  }
}
// Examples are what users copy: the placement rule applies to them too (not the size limits).
if (process.argv.length <= 2) {
  for (const d of readdirSync(join(root, "examples"))) checkPlacement(join(root, "examples", d));
}
for (const dir of packageDirs) {
  let files;
  try {
    files = [...sources(join(dir, "src"))];
  } catch {
    continue;
  }
  checkPlacement(dir);
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const where = relative(root, file);
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > MAX_FILE_LINES) problems.push(`${where}: ${lines} lines (max ${MAX_FILE_LINES})`);
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && "body" in node && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.end).line;
        const length = end - start + 1;
        if (length > MAX_FUNCTION_LINES) {
          const name = node.name?.getText(source) ?? "(anonymous)";
          problems.push(
            `${where}:${start + 1}: function ${name} has ${length} lines (max ${MAX_FUNCTION_LINES})`,
          );
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}
for (const problem of problems) console.error(problem);
if (problems.length > 0) {
  console.error(`check-structure: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("check-structure: every source file and function is within the limits");
