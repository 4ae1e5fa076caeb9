/**
 * A checkpoint handle for a training saved without one: `v` and the UTC time to the
 * millisecond, e.g. `v20250301-142233-123`, so handles sort by time.
 */
export function generateHandle(now: Date = new Date()): string {
  const iso = now.toISOString(); // 2025-03-01T14:22:33.123Z
  const date = iso.slice(0, 10).replaceAll("-", "");
  const time = iso.slice(11, 19).replaceAll(":", "");
  return `v${date}-${time}-${iso.slice(20, 23)}`;
}
