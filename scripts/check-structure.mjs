// Structure limits of the packages' sources (tests excluded): no file over 350 lines, no
// function over 120 lines. Usage: node scripts/check-structure.mjs [package-dir ...]
// (default: every packages/*). Exits 1 and lists each offender when a limit is broken.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const MAX_FILE_LINES = 350;
const MAX_FUNCTION_LINES = 120;
const root = join(import.meta.dirname, "..");
const isTest = (name) => /\.test(-d)?\.ts$/.test(name) || name === "__fixtures__";

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
for (const dir of packageDirs) {
  let files;
  try {
    files = [...sources(join(dir, "src"))];
  } catch {
    continue;
  }
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
