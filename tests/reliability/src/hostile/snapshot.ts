import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Every path under `root` with what it is: `dir <mode>`, `file <mode> <size> <sha256>`,
 * `link -> target` or the kind of a special file. Two equal snapshots mean nothing was
 * added, removed or changed. A missing root is `{}`.
 */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const name of names) {
      const abs = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = await lstat(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[key] = `dir ${mode}`;
        await walk(abs, key);
      } else if (st.isFile()) {
        const sha = createHash("sha256")
          .update(await readFile(abs))
          .digest("hex");
        out[key] = `file ${mode} ${st.size} ${sha}`;
      } else if (st.isSymbolicLink()) {
        out[key] = `link -> ${await readlink(abs)}`;
      } else {
        out[key] = `special ${mode}`;
      }
    }
  }
  await walk(root, "");
  return out;
}
