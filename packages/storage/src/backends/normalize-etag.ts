/** Strips the quotes (and a weak `W/` mark) S3 puts around ETags: `"abc"` → `abc`. */
export function normalizeEtag(etag: string): string {
  let value = etag.trim();
  if (value.startsWith("W/")) value = value.slice(2);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}
