import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const packageDir = join(import.meta.dirname, "..", "..");

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** Worker child processes run the built dist: build it when missing or older than src. */
export default async function setup(): Promise<void> {
  const built = await stat(join(packageDir, "dist", "index.js")).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built > (await newestMtime(join(packageDir, "src")))) return;
  await promisify(execFile)("npx", ["tsup"], { cwd: packageDir, timeout: 180_000 });
}
