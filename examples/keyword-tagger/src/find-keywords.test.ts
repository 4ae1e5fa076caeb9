import { describe, expect, it } from "vitest";
import { findKeywords } from "./find-keywords.js";

describe("findKeywords", () => {
  it("finds every occurrence, sorted by position", () => {
    expect(findKeywords("spam, more Spam and SPAM offers", ["spam", "offer"])).toEqual([
      { keyword: "spam", startIdx: 0, endIdx: 4 },
      { keyword: "spam", startIdx: 11, endIdx: 15 },
      { keyword: "spam", startIdx: 20, endIdx: 24 },
      { keyword: "offer", startIdx: 25, endIdx: 30 },
    ]);
  });

  it("respects caseSensitive", () => {
    expect(findKeywords("Spam spam", ["spam"], { caseSensitive: true })).toEqual([
      { keyword: "spam", startIdx: 5, endIdx: 9 },
    ]);
  });

  it("treats regex characters literally and keeps offsets into the original text", () => {
    const text = "İstanbul costs $5.00 (a.k.a. cheap)";
    const matches = findKeywords(text, ["$5.00", "a.k.a.", "i̇stanbul"]);
    for (const m of matches) expect(text.slice(m.startIdx, m.endIdx).length).toBeGreaterThan(0);
    expect(matches.map((m) => text.slice(m.startIdx, m.endIdx))).toEqual(["$5.00", "a.k.a."]);
  });

  it("does not overlap occurrences of one keyword", () => {
    expect(findKeywords("aaaa", ["aa"]).map((m) => m.startIdx)).toEqual([0, 2]);
  });
});
