const EMPTY = Buffer.alloc(0);

/**
 * Pulls bytes from an async iterable of chunks on demand: exact reads for headers, streamed
 * reads for bodies. Holds at most one source chunk; returned buffers may share its memory.
 */
export class ByteReader {
  readonly #iterator: AsyncIterator<unknown>;
  #chunk: Buffer = EMPTY;
  #done = false;
  #position = 0;

  constructor(source: AsyncIterable<unknown>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.#position;
  }

  /** Reads `size` bytes; fewer only when the input ends first. */
  async read(size: number): Promise<Buffer> {
    if (!(await this.#fill())) return EMPTY;
    if (this.#chunk.length >= size) return this.#take(size);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < size && (await this.#fill())) {
      const part = this.#take(Math.min(size - got, this.#chunk.length));
      parts.push(part);
      got += part.length;
    }
    return Buffer.concat(parts, got);
  }

  /** Yields up to `size` bytes as they arrive; stops early only when the input ends. */
  async *stream(size: number): AsyncGenerator<Buffer, void, undefined> {
    let left = size;
    while (left > 0 && (await this.#fill())) {
      const part = this.#take(Math.min(left, this.#chunk.length));
      left -= part.length;
      yield part;
    }
  }

  /** Discards up to `size` bytes; returns how many were there. */
  async skip(size: number): Promise<number> {
    let skipped = 0;
    for await (const part of this.stream(size)) skipped += part.length;
    return skipped;
  }

  /** Stops the source (destroys a stream) unless it already ended. */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#chunk = EMPTY;
    await this.#iterator.return?.();
  }

  #take(size: number): Buffer {
    const part = this.#chunk.subarray(0, size);
    this.#chunk = this.#chunk.subarray(size);
    this.#position += size;
    return part;
  }

  async #fill(): Promise<boolean> {
    while (this.#chunk.length === 0) {
      if (this.#done) return false;
      const next = await this.#iterator.next();
      if (next.done) {
        this.#done = true;
        return false;
      }
      this.#chunk = toBuffer(next.value);
    }
    return true;
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length);
  throw new TypeError(
    `[storage] [archive] The archive source must yield bytes (Buffer/Uint8Array), got ${typeof value}`,
  );
}
