import { expect } from "vitest";

/**
 * Reads a Server-Sent Events stream over a real socket: `seen.text` is what came so far,
 * `until(pattern)` waits for it to match (failing when the stream ends first).
 */
export async function readEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers });
  expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen = { text: "" };
  const until = async (pattern: RegExp) => {
    while (!pattern.test(seen.text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended: ${seen.text}`);
      seen.text += value;
    }
  };
  return { seen, until, close: () => controller.abort() };
}
