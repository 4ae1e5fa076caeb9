import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { comparePaths } from "@trainable/core";
import yazl from "yazl";

export interface ZipLayoutEntry {
  /** The entry name: relative to the folder, `/`-separated; directories end in `/`. */
  name: string;
  directory: boolean;
}

const parentOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf("/")));

/**
 * The entries `shutil.make_archive(base, "zip", folder)` writes for a folder, in its order:
 * `os.walk` top down, and at each folder first a `name/` entry for each subfolder (sorted),
 * then its files; then each subfolder's contents. Python lists a folder's files in directory
 * order, which the filesystem chooses: here they are sorted too, so the zip is deterministic.
 */
export function makeArchiveLayout(files: string[], directories: string[]): ZipLayoutEntry[] {
  const children = new Map<string, { dirs: string[]; files: string[] }>();
  const node = (dir: string) => {
    let entry = children.get(dir);
    if (!entry) {
      entry = { dirs: [], files: [] };
      children.set(dir, entry);
      if (dir !== "") node(parentOf(dir)).dirs.push(dir);
    }
    return entry;
  };
  node("");
  for (const dir of directories) node(dir);
  for (const file of files) node(parentOf(file)).files.push(file);
  const layout: ZipLayoutEntry[] = [];
  const walk = (dir: string) => {
    const { dirs, files: here } = node(dir);
    dirs.sort(comparePaths);
    for (const sub of dirs) layout.push({ name: `${sub}/`, directory: true });
    for (const file of here.sort(comparePaths)) layout.push({ name: file, directory: false });
    for (const sub of dirs) walk(sub);
  };
  walk("");
  return layout;
}

export interface WriteZipOptions {
  /** The folder whose `layout` entries are zipped. */
  folder: string;
  layout: ZipLayoutEntry[];
  /** The zip file to create (must not exist). */
  target: string;
  /** Modification time of every entry. */
  mtime: Date;
}

/**
 * Writes a zip like Python's `zipfile` does for `make_archive`: files deflated with mode
 * 0644, directory entries stored and empty with mode 0755, no extended-timestamp field.
 * Streams each file from disk (yazl), never a whole file in memory.
 */
export async function writeZip({ folder, layout, target, mtime }: WriteZipOptions): Promise<void> {
  const zip = new yazl.ZipFile();
  const written = pipeline(zip.outputStream, createWriteStream(target, { flags: "wx" }));
  for (const { name, directory } of layout) {
    if (directory) {
      zip.addEmptyDirectory(name, { mtime, mode: 0o40755, forceDosTimestamp: true });
    } else {
      zip.addFile(join(folder, name), name, {
        mtime,
        mode: 0o100644,
        compress: true,
        forceDosTimestamp: true,
      });
    }
  }
  zip.end();
  await written;
}
