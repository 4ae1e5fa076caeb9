import { type Readable, Transform } from "node:stream";
import type { RemoteBackend } from "../../backends/types.js";

type Op = "put" | "get" | "head" | "list" | "delete";

interface Call {
  op: Op;
  key: string;
  /** Bytes of the body, for puts (streams counted as they flow). */
  bytes?: number;
}

/** A gate a test opens when it wants an intercepted call to proceed. */
export interface Gate {
  /** Resolves when a matching call reached the gate. */
  reached: Promise<void>;
  open(): void;
}

/**
 * Wraps a backend for tests that force interleavings: every call is recorded (put bodies
 * counted at the backend, as they flow), and a call can be held at a gate before it runs —
 * or, for deletes, answered at once and applied only when the gate opens (a delete that lands
 * late).
 */
export function controlled(inner: RemoteBackend) {
  const calls: Call[] = [];
  const holds: Array<{ op: Op; match: (key: string) => boolean; gate: GateImpl; late: boolean }> =
    [];
  const lateDeletes: Promise<void>[] = [];
  const drops: Array<{ op: Op; match: (key: string) => boolean }> = [];
  const dropped = (op: Op, key: string) => drops.some((d) => d.op === op && d.match(key));

  class GateImpl implements Gate {
    reached: Promise<void>;
    #reach!: () => void;
    #opened!: () => void;
    readonly opened: Promise<void>;
    constructor() {
      this.reached = new Promise((r) => {
        this.#reach = r;
      });
      this.opened = new Promise((r) => {
        this.#opened = r;
      });
    }
    arrive() {
      this.#reach();
    }
    open() {
      this.#opened();
    }
  }

  const take = (op: Op, key: string) => {
    const index = holds.findIndex((h) => h.op === op && h.match(key));
    if (index === -1) return undefined;
    return holds.splice(index, 1)[0];
  };

  const backend: RemoteBackend = {
    name: inner.name,
    description: inner.description,
    capabilities: inner.capabilities,
    async put(key, body, options) {
      const call: Call = { op: "put", key, bytes: 0 };
      calls.push(call);
      if (dropped("put", key)) {
        // A frozen process: the write never happens (its info is made up).
        return { key, size: 0, etag: "dropped", lastModified: new Date() };
      }
      const hold = take("put", key);
      if (hold) {
        hold.gate.arrive();
        await hold.gate.opened;
      }
      if (body instanceof Uint8Array) {
        call.bytes = body.byteLength;
        return inner.put(key, body, options);
      }
      // Counted through a transform: a "data" listener would start the flow before the backend reads.
      const stream = body as Readable;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          call.bytes = (call.bytes ?? 0) + chunk.length;
          done(null, chunk);
        },
      });
      stream.once("error", (error) => counted.destroy(error));
      return inner.put(key, stream.pipe(counted), options);
    },
    async get(key, options) {
      calls.push({ op: "get", key });
      const hold = take("get", key);
      if (hold) {
        hold.gate.arrive();
        await hold.gate.opened;
      }
      return inner.get(key, options);
    },
    async head(key, options) {
      calls.push({ op: "head", key });
      const hold = take("head", key);
      if (hold) {
        hold.gate.arrive();
        await hold.gate.opened;
      }
      return inner.head(key, options);
    },
    async *list(prefix, options) {
      calls.push({ op: "list", key: prefix });
      const hold = take("list", prefix);
      if (hold) {
        hold.gate.arrive();
        await hold.gate.opened;
      }
      yield* inner.list(prefix, options);
    },
    async delete(key, options) {
      calls.push({ op: "delete", key });
      const hold = take("delete", key);
      if (hold?.late) {
        // Answered now, applied when the gate opens: a delete that lands late.
        hold.gate.arrive();
        lateDeletes.push(hold.gate.opened.then(() => inner.delete(key)));
        return;
      }
      if (hold) {
        hold.gate.arrive();
        await hold.gate.opened;
      }
      return inner.delete(key, options);
    },
    sweep: inner.sweep?.bind(inner),
    close: inner.close?.bind(inner),
  };

  return {
    backend,
    calls,
    /** Holds the next `op` on a key matching `match` until the returned gate opens. */
    hold(op: Op, match: (key: string) => boolean): Gate {
      const gate = new GateImpl();
      holds.push({ op, match, gate, late: false });
      return gate;
    },
    /** From now on, matching calls are answered at once and have no effect. */
    drop(op: Op, match: (key: string) => boolean): void {
      drops.push({ op, match });
    },
    /** Makes the next delete of a matching key land only when the gate opens. */
    delayDelete(match: (key: string) => boolean): Gate {
      const gate = new GateImpl();
      holds.push({ op: "delete", match, gate, late: true });
      return gate;
    },
    /** Waits for every late delete that was released. */
    async landed(): Promise<void> {
      await Promise.all(lateDeletes);
    },
    reset() {
      calls.length = 0;
    },
    bytesPut(match: (key: string) => boolean = () => true): number {
      return calls
        .filter((c) => c.op === "put" && match(c.key))
        .reduce((n, c) => n + (c.bytes ?? 0), 0);
    },
  };
}
