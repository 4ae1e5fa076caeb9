/** One occurrence of a keyword in a text: `[startIdx, endIdx)` in UTF-16 code units. */
export interface KeywordMatch {
  keyword: string;
  startIdx: number;
  endIdx: number;
}

export interface FindKeywordsOptions {
  /** Default false. */
  caseSensitive?: boolean;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Finds every occurrence of every keyword in `text` (occurrences of one keyword do not
 * overlap; different keywords may). Case-insensitive matching uses Unicode case folding, so
 * offsets always index the original `text`. Results are sorted by position, then keyword.
 */
export function findKeywords(
  text: string,
  keywords: readonly string[],
  options: FindKeywordsOptions = {},
): KeywordMatch[] {
  const flags = options.caseSensitive ? "gu" : "giu";
  const matches: KeywordMatch[] = [];
  for (const keyword of keywords) {
    if (keyword === "") continue;
    for (const match of text.matchAll(new RegExp(escapeRegExp(keyword), flags))) {
      matches.push({ keyword, startIdx: match.index, endIdx: match.index + match[0].length });
    }
  }
  return matches.sort(
    (a, b) => a.startIdx - b.startIdx || a.endIdx - b.endIdx || (a.keyword < b.keyword ? -1 : 1),
  );
}
