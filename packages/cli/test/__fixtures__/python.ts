import { spawnSync } from "node:child_process";

/**
 * Runs `python3 -c code args…` and returns its stdout. A missing `python3` fails the test with
 * a message saying how to get it — these tests check zips against Python's own `zipfile` and
 * `shutil`, so they never skip.
 */
export function python(code: string, args: string[] = [], cwd?: string): string {
  const r = spawnSync("python3", ["-c", code, ...args], { cwd, encoding: "utf8" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(
      "python3 is required by the Steamship zip tests (they compare with Python's shutil.make_archive and unpack_archive): install it, e.g. apt-get install -y python3",
    );
  }
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The original's `steamship.utils.zip_archives.zip_folder`, word for word, as a prelude. */
export const ZIP_FOLDER = `
import shutil, sys, os, zipfile, struct, warnings
from pathlib import Path
from typing import Optional

def zip_folder(folder: Path, into_file: Optional[Path]) -> Path:
    shutil.make_archive(str(folder).rstrip("/"), "zip", folder)
    zip_path_str = str(folder).rstrip("/") + ".zip"
    if into_file is None:
        return Path(zip_path_str)
    if not into_file.parent.exists():
        into_file.parent.mkdir(parents=True, exists_ok=True)
    shutil.move(zip_path_str, into_file)
    return into_file
`;
