import { open, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * fsyncs the file or folder at `path` (a folder: so the entries just created or renamed in it
 * survive a crash).
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs `root` and every file and folder under it (a small folder), so a rename publishes data. */
export async function fsyncTree(root: string): Promise<void> {
  const paths = [root];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() || entry.isDirectory()) paths.push(join(entry.parentPath, entry.name));
  }
  for (const path of paths) await fsyncPath(path);
}
