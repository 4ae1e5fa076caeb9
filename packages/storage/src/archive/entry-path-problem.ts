const DRIVE_LETTER = /^[A-Za-z]:/;

/**
 * Checks one relative archive path (POSIX `/` separators, no trailing `/`) and returns what is
 * wrong with it, or `undefined` when it is safe to join under a folder on any platform.
 * The same rules apply when scanning a folder and when extracting, so every archive we write
 * can be extracted. Length limits are checked separately.
 */
export function entryPathProblem(entryPath: string): string | undefined {
  if (entryPath.length === 0) return "path is empty";
  for (let i = 0; i < entryPath.length; i++) {
    const unit = entryPath.charCodeAt(i);
    if (unit === 0) return "path contains a NUL byte";
    if (unit < 0x20 || unit === 0x7f) return "path contains a control character";
    if (unit === 0x5c) return "path contains a backslash";
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = entryPath.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return "path is not valid Unicode";
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return "path is not valid Unicode";
    }
  }
  if (entryPath.startsWith("/")) return "path is absolute";
  for (const segment of entryPath.split("/")) {
    if (segment === "") return 'path contains an empty segment ("//" or a trailing "/")';
    if (segment === "..") return 'path contains a ".." segment';
    if (segment === ".") return 'path contains a "." segment';
    if (DRIVE_LETTER.test(segment)) return 'path contains a drive letter (like "C:")';
  }
  return undefined;
}
