/**
 * A backend wrapper for forcing interleavings in one process (the idea of the storage
 * package's own `controlled()` test fixture, written again here: the suite imports no
 * package's sources). Every call is recorded; a call can be held at a gate before it runs;
 * deletes can be answered at once and applied only when a gate opens (a delete that lands
 * late); and puts matching a pattern can be frozen (held until thawed), to stand for a process
 * that stopped running — e.g. the pin refreshes of a save that is paused.
 */
import type { Readable } from "node:stream";
import type { RemoteBackend } from "@trainable/storage";

type Op = "put" | "get" | "head" | "list" | "delete";

interface Call {
  op: Op;
  key: string;
}

export interface Gate {
  /** Resolves when a matching call reached the gate. */
  reached: Promise<void>;
  /** How many calls reached it (a late-delete gate collects every matching delete). */
  readonly count: number;
  open(): void;
}

class GateImpl implements Gate {
  reached: Promise<void>;
  readonly opened: Promise<void>;
  count = 0;
  #reach!: () => void;
  #open!: () => void;
  constructor() {
    this.reached = new Promise((r) => {
      this.#reach = r;
    });
    this.opened = new Promise((r) => {
      this.#open = r;
    });
  }
  arrive() {
    this.count++;
    this.#reach();
  }
  open() {
    this.#open();
  }
}

interface Hold {
  op: Op;
  match: (key: string) => boolean;
  gate: GateImpl;
  /** Deletes only: answer now, apply when the gate opens. */
  late: boolean;
  /** Applies to every matching call (not just the next one). */
  sticky: boolean;
}

export function controlled(inner: RemoteBackend) {
  const calls: Call[] = [];
  const holds: Hold[] = [];
  const lateDeletes: Promise<void>[] = [];

  const take = (op: Op, key: string): Hold | undefined => {
    const index = holds.findIndex((h) => h.op === op && h.match(key));
    if (index === -1) return undefined;
    const hold = holds[index]!;
    if (!hold.sticky) holds.splice(index, 1);
    return hold;
  };
  const pass = async (op: Op, key: string) => {
    calls.push({ op, key });
    const hold = take(op, key);
    if (hold) {
      hold.gate.arrive();
      await hold.gate.opened;
    }
  };

  const backend: RemoteBackend = {
    name: inner.name,
    description: inner.description,
    capabilities: inner.capabilities,
    async put(key, body, options) {
      await pass("put", key);
      return inner.put(key, body as Readable | Uint8Array, options);
    },
    async get(key, options) {
      await pass("get", key);
      return inner.get(key, options);
    },
    async head(key, options) {
      await pass("head", key);
      return inner.head(key, options);
    },
    async *list(prefix, options) {
      await pass("list", prefix);
      yield* inner.list(prefix, options);
    },
    async delete(key, options) {
      calls.push({ op: "delete", key });
      const hold = take("delete", key);
      if (hold?.late) {
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

  const add = (
    op: Op,
    match: (key: string) => boolean,
    { late, sticky }: { late: boolean; sticky: boolean },
  ) => {
    const gate = new GateImpl();
    holds.push({ op, match, gate, late, sticky });
    return gate as Gate;
  };

  return {
    backend,
    calls,
    /** Holds the next `op` on a key matching `match` until the gate opens. */
    hold: (op: Op, match: (key: string) => boolean): Gate =>
      add(op, match, { late: false, sticky: false }),
    /** Every delete of a matching key is answered at once and lands when the gate opens. */
    delayDeletes: (match: (key: string) => boolean): Gate =>
      add("delete", match, { late: true, sticky: true }),
    /** Every put of a matching key waits until the gate opens (a frozen process's writes). */
    freezePuts: (match: (key: string) => boolean): Gate =>
      add("put", match, { late: false, sticky: true }),
    /** Waits for every late delete that was let through. */
    landed: async (): Promise<void> => {
      await Promise.all(lateDeletes);
    },
  };
}
