import { createReadStream } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { LabeledEmail } from "./types.js";

/** Turns a local path or `file:` URL into an absolute filesystem path; anything else throws. */
function toLocalPath(pathOrUrl: string | URL): string {
  if (
    pathOrUrl instanceof URL ||
    /^file:/i.test(pathOrUrl) ||
    /^[a-z][a-z0-9+.-]+:\/\//i.test(pathOrUrl)
  ) {
    const url = pathOrUrl instanceof URL ? pathOrUrl : new URL(pathOrUrl);
    if (url.protocol !== "file:") {
      throw new Error(`trainingDataUrl must be a local path or file: URL, got ${url.protocol}`);
    }
    return fileURLToPath(url);
  }
  return isAbsolute(pathOrUrl) ? pathOrUrl : resolve(pathOrUrl);
}

/**
 * Streams a JSONL file line by line, yielding one {@link LabeledEmail} per non-blank line.
 * Each line must be `{"text": string, "label": "spam" | "ham"}` (an optional string `group` is
 * kept, default `"custom"`). Malformed lines throw with their 1-based line number.
 */
export async function* readJsonlCorpus(pathOrUrl: string | URL): AsyncGenerator<LabeledEmail> {
  const path = toLocalPath(pathOrUrl);
  const lines = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber += 1;
      if (line.trim() === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        throw new Error(`${path}:${lineNumber}: invalid JSON (${(error as Error).message})`);
      }
      const record = parsed as { text?: unknown; label?: unknown; group?: unknown } | null;
      if (record === null || typeof record !== "object" || typeof record.text !== "string") {
        throw new Error(`${path}:${lineNumber}: expected an object with a string "text"`);
      }
      if (record.label !== "spam" && record.label !== "ham") {
        throw new Error(`${path}:${lineNumber}: "label" must be "spam" or "ham"`);
      }
      yield {
        id: `line-${lineNumber}`,
        group: typeof record.group === "string" ? record.group : "custom",
        text: record.text,
        label: record.label,
      };
    }
  } finally {
    lines.close();
  }
}
