import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readEvents } from "./read-events.js";

async function parse(chunks: string[]) {
  const out = [];
  for await (const event of readEvents(
    (async function* () {
      for (const c of chunks) yield new TextEncoder().encode(c);
    })(),
  )) {
    out.push(event);
  }
  return out;
}

describe("readEvents", () => {
  it("parses ids, types, multi-line data and skips comments", async () => {
    expect(
      await parse([
        ': keep-alive\n\nid: 3\nevent: update\ndata: {"a":1}\n\n',
        "event: finished\r\ndata: x\r\ndata: y\r\n\r\n",
      ]),
    ).toEqual([
      { id: "3", event: "update", data: '{"a":1}' },
      { event: "finished", data: "x\ny" },
    ]);
  });

  it("gives the same events however the stream is cut (property)", async () => {
    const stream =
      'id: 1\nevent: update\ndata: {"u":"é✓"}\n\n: ping\n\nid: 2\nevent: finished\ndata: {}\n\n';
    const expected = await parse([stream]);
    const bytes = new TextEncoder().encode(stream);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: bytes.length }), { maxLength: 6 }), async (cuts) => {
        const points = [...new Set([0, ...cuts, bytes.length])].sort((a, b) => a - b);
        const pieces = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
        const out = [];
        for await (const e of readEvents(
          (async function* () {
            yield* pieces;
          })(),
        )) {
          out.push(e);
        }
        expect(out).toEqual(expected);
      }),
    );
  });
});
