/**
 * Where a store is, for the page: a `file:` store's path, an `s3:` store's bucket and prefix,
 * `memory:` — without the query (endpoint options) or any user info.
 */
export function storeLabel(remote: string): string {
  try {
    const url = new URL(remote);
    if (url.protocol === "file:") return decodeURIComponent(url.pathname);
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    return "(store)";
  }
}
