/**
 * Orders two paths by their UTF-8 bytes (what `Buffer.compare` would say) without encoding
 * them. UTF-16 code-unit order equals code-point order (and so UTF-8 byte order) except that
 * surrogates (U+D800–U+DFFF, which encode code points above U+FFFF) must sort after
 * U+E000–U+FFFF; the remap below moves them there.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return remap(x) - remap(y);
  }
  return a.length - b.length;
}

function remap(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
