import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { errno } from "./errno.js";

/** The entries of a folder, or none when it does not exist (or is not a folder). */
export async function readDirIfExists(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (error) {
    if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return [];
    throw error;
  }
}
