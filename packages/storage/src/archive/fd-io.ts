import fs from "node:fs";
import { promisify } from "node:util";

export const openFd = promisify(fs.open);
const writeFd = (fd: number, buffer: Buffer, offset: number, length: number) =>
  new Promise<number>((resolve, reject) => {
    fs.write(fd, buffer, offset, length, null, (error, written) =>
      error ? reject(error) : resolve(written),
    );
  });
// Looked up at each call (not captured), so tests can observe when files are flushed.
export const datasyncFd = (fd: number) =>
  new Promise<void>((resolve, reject) => {
    fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()));
  });
const fsyncFd = promisify(fs.fsync);
export const closeFd = promisify(fs.close);
export const fchmodFd = promisify(fs.fchmod);
export const fstatFd = promisify(fs.fstat);

/** Writes all of `chunk` at the file's position. */
export async function writeAll(fd: number, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    offset += await writeFd(fd, chunk, offset, chunk.length - offset);
  }
}

/** fsync on a directory (or file) by path: makes its names durable. A no-op where unsupported. */
export async function fsyncPath(target: string): Promise<void> {
  const fd = await openFd(target, "r");
  try {
    await fsyncFd(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!(process.platform === "win32" && (code === "EPERM" || code === "EISDIR"))) throw error;
  } finally {
    await closeFd(fd);
  }
}
