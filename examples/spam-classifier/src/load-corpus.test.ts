import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCorpus } from "./load-corpus.js";
import { loadSpamAssassin } from "./load-spam-assassin.js";
import { readJsonlCorpus } from "./read-jsonl-corpus.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "spam-corpus-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadSpamAssassin", () => {
  it("loads all 6,046 emails with labels derived from groups and unique ids", () => {
    const corpus = loadSpamAssassin();
    expect(corpus).toHaveLength(6046);
    expect(new Set(corpus.map((e) => e.id)).size).toBe(6046);
    const counts: Record<string, number> = {};
    for (const e of corpus) {
      counts[`${e.group}:${e.label}`] = (counts[`${e.group}:${e.label}`] ?? 0) + 1;
      expect(typeof e.text).toBe("string");
    }
    expect(counts).toEqual({
      "easy-ham-1:ham": 2500,
      "easy-ham-2:ham": 1400,
      "hard-ham-1:ham": 250,
      "spam-1:spam": 500,
      "spam-2:spam": 1396,
    });
  });
});

describe("JSONL corpora", () => {
  it("streams {text,label} lines from a path or a file: URL", async () => {
    const path = join(dir, "data.jsonl");
    const lines = [
      JSON.stringify({ text: "win money", label: "spam" }),
      "",
      JSON.stringify({ text: "see you at lunch", label: "ham", group: "work" }),
    ];
    await writeFile(path, `${lines.join("\r\n")}\n`);
    const expected = [
      { id: "line-1", group: "custom", text: "win money", label: "spam" },
      { id: "line-3", group: "work", text: "see you at lunch", label: "ham" },
    ];
    expect(await loadCorpus(path)).toEqual(expected);
    expect(await loadCorpus(pathToFileURL(path).href)).toEqual(expected);
    const streamed = [];
    for await (const example of readJsonlCorpus(pathToFileURL(path))) streamed.push(example);
    expect(streamed).toEqual(expected);
  });

  it("reports the line number of a bad record", async () => {
    const path = join(dir, "bad.jsonl");
    await writeFile(
      path,
      `${JSON.stringify({ text: "ok", label: "ham" })}\n{"text":"x","label":"eggs"}\n`,
    );
    await expect(loadCorpus(path)).rejects.toThrow(/bad\.jsonl:2: "label"/);
    await writeFile(path, "{not json\n");
    await expect(loadCorpus(path)).rejects.toThrow(/:1: invalid JSON/);
  });

  it("only accepts local paths and file: URLs", async () => {
    await expect(loadCorpus("https://example.com/data.jsonl")).rejects.toThrow(/file: URL/);
  });

  it("uses SpamAssassin when no URL is given", async () => {
    expect(await loadCorpus()).toHaveLength(6046);
  });
});
