import { shownPath } from "./read-only-view.js";

/**
 * Where a store is, for the page: a `file:` store's path (relative to `cwd` when given, as a
 * read-only dashboard shows it), an `s3:` store's bucket and prefix, `memory:` — without the
 * query (endpoint options) or any user info.
 */
export function storeLabel(remote: string, cwd?: string): string {
  try {
    const url = new URL(remote);
    if (url.protocol === "file:") {
      const path = decodeURIComponent(url.pathname);
      return cwd === undefined ? path : `file:${shownPath(path, cwd)}`;
    }
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    return "(store)";
  }
}
