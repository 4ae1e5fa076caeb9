/** One Server-Sent Event. */
export interface ServerEvent {
  id?: string;
  event: string;
  data: string;
}

const decoder = () => new TextDecoder("utf-8");

/**
 * Parses a `text/event-stream` body (the WHATWG event-stream format: `field: value` lines,
 * events ended by a blank line, `:` comments ignored, multi-line `data` joined with `\n`).
 */
export async function* readEvents(
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
): AsyncGenerator<ServerEvent> {
  const text = decoder();
  let buffer = "";
  let event: { id?: string; event?: string; data: string[] } = { data: [] };
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    buffer += text.decode(chunk, { stream: true });
    for (;;) {
      const newline = buffer.search(/\r\n|\r|\n/);
      if (newline === -1) break;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (event.data.length > 0 || event.event !== undefined) {
          yield {
            ...(event.id !== undefined ? { id: event.id } : {}),
            event: event.event ?? "message",
            data: event.data.join("\n"),
          };
        }
        event = { data: [] };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") event.data.push(value);
      else if (field === "event") event.event = value;
      else if (field === "id" && !value.includes("\0")) event.id = value;
    }
  }
}
