import { PassThrough, Readable } from "node:stream";
import { RemoteError, TrainableError, ValidationError } from "@trainable/core";
import { codeOf, type S3ErrorMapper } from "./s3-errors.js";
import { S3_BACKEND_NAME } from "./s3-options.js";

const COMPONENT = S3_BACKEND_NAME;

export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk);
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new ValidationError(`[storage] [${COMPONENT}] Body chunks must be bytes or strings`, {
    issues: [{ path: "body", message: "yielded a chunk that is not bytes" }],
  });
}

/** A byte stream of `chunks`; destroying it destroys `source` too. */
function bytesFrom(chunks: AsyncIterable<Buffer>, source: Readable): Readable {
  const stream = Readable.from(chunks, { objectMode: false });
  stream.once("close", () => {
    if (!source.destroyed) source.destroy();
  });
  return stream;
}

/** The bytes `start`…`end` (inclusive) of a stream of a whole object. */
export function sliceStream(body: Readable, start: number, end: number | undefined): Readable {
  let position = 0;
  return bytesFrom(
    (async function* () {
      for await (const chunk of body) {
        const bytes = toBuffer(chunk);
        const from = Math.max(0, start - position);
        const to = end === undefined ? bytes.length : Math.min(bytes.length, end + 1 - position);
        position += bytes.length;
        if (to > from) yield bytes.subarray(from, to);
        if (end !== undefined && position > end) return;
      }
    })(),
    body,
  );
}

/** Reads up to `limit + 1` bytes: `head` is the whole body when it ended by then, else `rest` continues it. */
export async function peek(
  body: Readable,
  limit: number,
): Promise<{ head: Buffer; rest: undefined } | { head: undefined; rest: Readable }> {
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  while (size <= limit) {
    const next = await iterator.next();
    if (next.done) return { head: Buffer.concat(chunks, size), rest: undefined };
    const bytes = toBuffer(next.value);
    chunks.push(bytes);
    size += bytes.byteLength;
  }
  const rest = bytesFrom(
    (async function* () {
      yield* chunks;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield toBuffer(next.value);
      }
    })(),
    body,
  );
  return { head: undefined, rest };
}

/**
 * The body of a GET, with its stream errors mapped like request errors: a connection lost
 * mid-download is a retryable `RemoteError`, an abort a `CancelledError` (the SDK's body
 * stream fails with raw socket errors such as "aborted"). Destroying the returned stream
 * releases the connection.
 */
export function mappedBody(
  raw: Readable,
  where: { key: string; description: string; signal?: AbortSignal; mapError: S3ErrorMapper },
): Readable {
  const { key, description, signal } = where;
  const body = new PassThrough({ highWaterMark: raw.readableHighWaterMark });
  raw.on("error", (error) => {
    const mapped = where.mapError(error, { op: "get", key, signal });
    body.destroy(
      TrainableError.isInstance(mapped) && !RemoteError.isInstance(mapped)
        ? mapped
        : new RemoteError(
            `[storage] [${COMPONENT}] get "${key}" on ${description} failed while reading the body: ${codeOf(error)} (${(error as Error)?.message ?? String(error)})`,
            { cause: error, retryable: true },
          ),
    );
  });
  body.on("close", () => {
    if (!raw.destroyed && !raw.readableEnded) raw.destroy();
  });
  raw.pipe(body);
  return body;
}
