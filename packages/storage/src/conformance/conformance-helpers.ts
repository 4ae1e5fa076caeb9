import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { ObjectInfo, RemoteBackend } from "../backends/types.js";

export const MIB = 1024 * 1024;

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function digestOf(body: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Deterministic pseudo-random 1 MiB chunks adding up to `bytes`. */
export function* patternChunks(bytes: number, seed: string): Generator<Buffer> {
  const block = Buffer.alloc(MIB);
  let counter = createHash("sha256").update(seed).digest();
  for (let offset = 0; offset < block.length; offset += counter.length) {
    counter.copy(block, offset);
    counter = createHash("sha256").update(counter).digest();
  }
  for (let i = 0; i * MIB < bytes; i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(MIB, bytes - i * MIB)));
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

export function patternDigest(bytes: number, seed: string): string {
  const hash = createHash("sha256");
  for (const chunk of patternChunks(bytes, seed)) hash.update(chunk);
  return hash.digest("hex");
}

/** A stream of `bytes` pattern bytes produced lazily by an async generator. */
export function patternStream(bytes: number, seed: string): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of patternChunks(bytes, seed)) {
        yield chunk;
        await new Promise((r) => setImmediate(r));
      }
    })(),
  );
}

export async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

export async function getText(backend: RemoteBackend, key: string): Promise<string> {
  const { body } = await backend.get(key);
  return (await readAll(body)).toString("utf8");
}

export async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}
