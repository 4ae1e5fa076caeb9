/** Every error code the trainable packages raise. A closed union: switch on it safely. */
export type TrainableErrorCode =
  | "VALIDATION"
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "CONFLICT"
  | "INTEGRITY"
  | "REMOTE"
  | "TRAINING"
  | "CANCELLED"
  | "TIMEOUT"
  | "NOT_SUPPORTED"
  | "INTERNAL";

const baseMarker = "trainable.error";
const baseSymbol = Symbol.for(baseMarker);

export interface TrainableErrorOptions {
  cause?: unknown;
}

/**
 * Base class of every error thrown by trainable packages.
 *
 * Each class carries its own `Symbol.for(...)` mark, so `isInstance` works across two copies
 * of a package (where `instanceof` does not) and `A.isInstance(new B())` is false for
 * sibling classes.
 */
export class TrainableError extends Error {
  readonly [baseSymbol] = true;
  readonly code: TrainableErrorCode;
  override readonly cause?: unknown;

  constructor(code: TrainableErrorCode, message: string, options: TrainableErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TrainableError";
    this.code = code;
    this.cause = options.cause;
  }

  static isInstance(error: unknown): error is TrainableError {
    return TrainableError.hasMarker(error, baseMarker);
  }

  /** True when `error` carries the mark `Symbol.for(marker)`. For subclasses' `isInstance`. */
  protected static hasMarker(error: unknown, marker: string): boolean {
    if (error == null || typeof error !== "object") return false;
    const symbol = Symbol.for(marker);
    return symbol in error && (error as Record<symbol, unknown>)[symbol] === true;
  }

  /** A plain, JSON-safe view for logs and HTTP bodies: no stack, no cause chain. */
  toJSON(): { name: string; code: TrainableErrorCode; message: string } {
    return { name: this.name, code: this.code, message: this.message };
  }
}
