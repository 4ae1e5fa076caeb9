import { lstat } from "node:fs/promises";
import { errno } from "./errno.js";

/** True when something (of any type, links not followed) is at `path`; other errors throw. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errno(error) === "ENOENT") return false;
    throw error;
  }
}
