import { entryPathProblem } from "@trainable/storage/archive";

/** The central-directory fields of a zip entry that decide whether it may be extracted. */
export interface ZipEntryFields {
  /** The decoded name as stored: directories end in `/`. */
  name: string;
  externalFileAttributes: number;
  generalPurposeBitFlag: number;
  compressionMethod: number;
  uncompressedSize: number;
}

/** A safe entry (`path` without the trailing `/` of a directory), or what is wrong with it. */
export type ZipEntryCheck =
  | { path: string; directory: boolean; problem?: undefined }
  | { problem: string };

/** The longest file name (one path segment) common filesystems take (NAME_MAX). */
const MAX_NAME_BYTES = 255;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MSDOS_DIRECTORY = 0x10;
const ENCRYPTED = 0x1;
const STORED = 0;
const DEFLATED = 8;

/**
 * Checks one zip entry: its name must be a relative POSIX path that is safe under any folder
 * (the rules of the checkpoint store: no `..`, `.`, empty segments, absolute paths, drive
 * letters, backslashes or control characters), and its attributes those of a plain file or
 * directory — a Unix mode in the high 16 bits of the external attributes (what Python's
 * `zipfile` and Info-ZIP write) must not be a link, device, FIFO or socket, and must agree
 * with the trailing `/` of the name. Encrypted entries and compression methods other than
 * stored and deflate are refused too.
 */
export function checkZipEntry(entry: ZipEntryFields, maxPathLength: number): ZipEntryCheck {
  const directory = entry.name.endsWith("/");
  const path = directory ? entry.name.slice(0, -1) : entry.name;
  const pathProblem = entryPathProblem(path);
  if (pathProblem !== undefined) return { problem: pathProblem };
  if (Buffer.byteLength(path) > maxPathLength) {
    return { problem: `path is longer than ${maxPathLength} bytes` };
  }
  if (path.split("/").some((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES)) {
    return { problem: `has a path segment longer than ${MAX_NAME_BYTES} bytes` };
  }
  const mode = entry.externalFileAttributes >>> 16;
  const type = mode & S_IFMT;
  if (type === S_IFLNK) return { problem: "is a symbolic link" };
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    return { problem: `is not a regular file or directory (mode 0o${mode.toString(8)})` };
  }
  const dosDirectory = (entry.externalFileAttributes & MSDOS_DIRECTORY) !== 0;
  if ((type === S_IFDIR || dosDirectory) && !directory) {
    return { problem: 'has directory attributes but its name does not end in "/"' };
  }
  if (type === S_IFREG && directory) {
    return { problem: 'has file attributes but its name ends in "/"' };
  }
  if ((entry.generalPurposeBitFlag & ENCRYPTED) !== 0) return { problem: "is encrypted" };
  if (directory) {
    if (entry.uncompressedSize !== 0) {
      return { problem: `is a directory holding ${entry.uncompressedSize} bytes` };
    }
  } else if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    return {
      problem: `uses compression method ${entry.compressionMethod} (only stored and deflate are read)`,
    };
  }
  return { path, directory };
}
