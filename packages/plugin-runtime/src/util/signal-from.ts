/** Where a lazily made signal is read from (a request's, made on first use). */
export interface SignalSource {
  readonly signal?: AbortSignal;
}

const FROM = Symbol("trainable.signalFrom");

/**
 * One getter for every object: a getter written in an object literal (or defined with a new
 * closure per object) gives each object a hidden class of its own, which V8 turns into a slow
 * dictionary object — about a microsecond per request for each of them, plus garbage.
 */
const SIGNAL: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: { [FROM]: SignalSource }) {
    return this[FROM].signal;
  },
};

/**
 * Gives `target` an own, enumerable `signal` that reads `from.signal` when it is read — so a
 * request's signal is only made if someone reads it (a spread copy reads it, as with any
 * getter). Returns `target`.
 */
export function withSignalFrom<T extends object>(
  target: T,
  from: SignalSource,
): T & { readonly signal?: AbortSignal } {
  (target as { [FROM]?: SignalSource })[FROM] = from;
  return Object.defineProperty(target, "signal", SIGNAL) as T & { readonly signal?: AbortSignal };
}
