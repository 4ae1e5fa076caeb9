/** The `code` of a Node system error (`ENOENT`, `EEXIST`, …), or undefined. */
export function errno(error: unknown): string | undefined {
  if (error && typeof error === "object" && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
