import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const packageDir = join(import.meta.dirname, "..");

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
    }
  }
  return newest;
}

/**
 * The tests spawn built code (the service, and an engine child importing dist/plugin.js):
 * build once, before any test file runs, when dist is missing or older than src.
 */
export default async function setup(): Promise<void> {
  const built = await Promise.all(
    ["plugin.js", "service/main.js"].map((file) =>
      stat(join(packageDir, "dist", file)).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  if (Math.min(...built) > (await newestMtime(join(packageDir, "src")))) return;
  await promisify(execFile)("npx", ["tsup"], { cwd: packageDir, timeout: 180_000 });
}
