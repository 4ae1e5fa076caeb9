import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.ValidationError";
const symbol = Symbol.for(marker);

/** One bad field: a dotted path (`data.trainingEpochs`, `blocks[0].text`) and what was wrong. */
export interface ValidationIssue {
  path: string;
  message: string;
}

interface ZodLikeIssue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/** Formats a zod-style path (`["blocks", 0, "text"]`) as `blocks[0].text`. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Input was rejected before anything was done. `issues` lists every bad field. */
export class ValidationError extends TrainableError {
  readonly [symbol] = true;
  readonly issues: ValidationIssue[];

  constructor(
    message: string,
    options: TrainableErrorOptions & { issues?: ValidationIssue[] } = {},
  ) {
    super("VALIDATION", message, options);
    this.name = "ValidationError";
    this.issues = options.issues ?? [];
  }

  static override isInstance(error: unknown): error is ValidationError {
    return TrainableError.hasMarker(error, marker);
  }

  /** Builds an error for a single bad field; the message names the field. */
  static forField(component: string, field: string, problem: string): ValidationError {
    return new ValidationError(`[${component}] Invalid ${field}: ${problem}`, {
      issues: [{ path: field, message: problem }],
    });
  }

  /**
   * Wraps a ZodError (kept as `cause`). The message lists each bad path, e.g.
   * `[core] Invalid TrainPluginInput: trainingEpochs: Too small: expected number to be >=0`.
   */
  static fromZod(
    component: string,
    what: string,
    error: { issues: ReadonlyArray<ZodLikeIssue> },
  ): ValidationError {
    const issues = error.issues.map((issue) => ({
      path: formatIssuePath(issue.path),
      message: issue.message,
    }));
    const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    return new ValidationError(`[${component}] Invalid ${what}: ${list}`, { cause: error, issues });
  }
}
