import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  CancelledError,
  ConflictError,
  formatIssuePath,
  HTTP_STATUS_BY_CODE,
  httpStatusForCode,
  IntegrityError,
  NotFoundError,
  RemoteError,
  TimeoutError,
  TrainableError,
  type TrainableErrorCode,
  TrainingError,
  UnauthorizedError,
  ValidationError,
} from "./index.js";

interface ErrorCase {
  name: string;
  code: TrainableErrorCode;
  // biome-ignore lint/suspicious/noExplicitAny: a table of heterogeneous error classes
  cls: { isInstance(error: unknown): boolean; new (...args: any[]): TrainableError };
  make: (cause?: unknown) => TrainableError;
}

const subclasses: ErrorCase[] = [
  {
    name: "ValidationError",
    code: "VALIDATION",
    cls: ValidationError,
    make: (cause) => new ValidationError("bad input", { cause }),
  },
  {
    name: "NotFoundError",
    code: "NOT_FOUND",
    cls: NotFoundError,
    make: (cause) => new NotFoundError("no such handle", { cause }),
  },
  {
    name: "UnauthorizedError",
    code: "UNAUTHORIZED",
    cls: UnauthorizedError,
    make: (cause) => new UnauthorizedError("no token", { cause }),
  },
  {
    name: "ConflictError",
    code: "CONFLICT",
    cls: ConflictError,
    make: (cause) => new ConflictError("handle moved", { cause }),
  },
  {
    name: "IntegrityError",
    code: "INTEGRITY",
    cls: IntegrityError,
    make: (cause) => new IntegrityError("digest mismatch", { cause }),
  },
  {
    name: "RemoteError",
    code: "REMOTE",
    cls: RemoteError,
    make: (cause) => new RemoteError("s3 down", { cause }),
  },
  {
    name: "TrainingError",
    code: "TRAINING",
    cls: TrainingError,
    make: (cause) => new TrainingError("diverged", { cause }),
  },
  {
    name: "CancelledError",
    code: "CANCELLED",
    cls: CancelledError,
    make: (cause) => new CancelledError("stopped", { cause }),
  },
  {
    name: "TimeoutError",
    code: "TIMEOUT",
    cls: TimeoutError,
    make: (cause) => new TimeoutError("too slow", { cause }),
  },
];

const base: ErrorCase = {
  name: "TrainableError",
  code: "INTERNAL",
  cls: TrainableError,
  make: (cause) => new TrainableError("INTERNAL", "oops", { cause }),
};

const all = [base, ...subclasses];

describe("error classes", () => {
  it.each(all)("$name has its code, name and message", ({ name, code, make }) => {
    const error = make();
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(TrainableError);
    expect(error.message.length).toBeGreaterThan(0);
    expect(String(error)).toBe(`${name}: ${error.message}`);
  });

  it.each(all)("$name.isInstance(new $name()) is true", ({ cls, make }) => {
    expect(cls.isInstance(make())).toBe(true);
  });

  it.each(subclasses)("TrainableError.isInstance(new $name()) is true", ({ make }) => {
    expect(TrainableError.isInstance(make())).toBe(true);
  });

  it.each(subclasses)("$name.isInstance(new TrainableError()) is false", ({ cls }) => {
    expect(cls.isInstance(new TrainableError("INTERNAL", "base only"))).toBe(false);
    // Even when the base error carries the subclass's code.
    expect(cls.isInstance(new TrainableError("VALIDATION", "base only"))).toBe(false);
  });

  const pairs = subclasses.flatMap((a) =>
    subclasses.filter((b) => b !== a).map((b) => ({ a: a.name, b: b.name, A: a, B: b })),
  );
  it.each(pairs)("$a.isInstance(new $b()) is false", ({ A, B }) => {
    expect(A.cls.isInstance(B.make())).toBe(false);
  });

  it.each(all)("$name.isInstance rejects non-errors", ({ cls }) => {
    for (const value of [
      undefined,
      null,
      0,
      "ValidationError",
      {},
      [],
      new Error("plain"),
      Object.assign(new Error("x"), { code: "VALIDATION", name: "ValidationError" }),
    ]) {
      expect(cls.isInstance(value)).toBe(false);
    }
  });

  it.each(all)("$name.isInstance works across two copies of the package", ({ name, cls }) => {
    // Another copy of @trainable/core defines other classes, but marks instances with the
    // same global Symbol.for keys. Simulate such an instance with a plain object.
    const foreign: Record<PropertyKey, unknown> = { name, message: "from another copy" };
    foreign[Symbol.for("trainable.error")] = true;
    if (name !== "TrainableError") foreign[Symbol.for(`trainable.error.${name}`)] = true;
    expect(foreign instanceof TrainableError).toBe(false);
    expect(cls.isInstance(foreign)).toBe(true);
    expect(TrainableError.isInstance(foreign)).toBe(true);
    for (const other of subclasses) {
      if (other.name !== name) expect(other.cls.isInstance(foreign)).toBe(false);
    }
  });

  it("a mark must be exactly true to count", () => {
    const fake: Record<PropertyKey, unknown> = {};
    fake[Symbol.for("trainable.error")] = "yes";
    fake[Symbol.for("trainable.error.ValidationError")] = 1;
    expect(TrainableError.isInstance(fake)).toBe(false);
    expect(ValidationError.isInstance(fake)).toBe(false);
  });

  it.each(all)("$name keeps its cause", ({ make }) => {
    const cause = new Error("root cause");
    const error = make(cause);
    expect(error.cause).toBe(cause);
    const noCause = make();
    expect(noCause.cause).toBeUndefined();
    expect("cause" in Error.prototype).toBe(false);
  });

  it.each(all)("$name.toJSON has name, code and message and no stack or cause", ({ make }) => {
    const error = make(new Error("secret cause with https://signed.example/?X-Amz-Signature=abc"));
    const json = error.toJSON();
    expect(json).toEqual({ name: error.name, code: error.code, message: error.message });
    expect(Object.keys(json).sort()).toEqual(["code", "message", "name"]);
    const text = JSON.stringify(error);
    expect(text).not.toContain("stack");
    expect(text).not.toContain("    at ");
    expect(text).not.toContain("Signature");
    expect(JSON.parse(text)).toEqual(json);
  });

  it("defaults of the classes with extra fields", () => {
    expect(new CancelledError().message).toBe("Operation cancelled");
    const remote = new RemoteError("[storage] [s3] throttled", { retryable: true, status: 503 });
    expect(remote.retryable).toBe(true);
    expect(remote.status).toBe(503);
    const plain = new RemoteError("[storage] [s3] denied");
    expect(plain.retryable).toBe(false);
    expect(plain.status).toBeUndefined();
    const conflict = new ConflictError("moved", {
      expected: null,
      actual: `sha256:${"a".repeat(64)}`,
    });
    expect(conflict.expected).toBeNull();
    expect(conflict.actual).toBe(`sha256:${"a".repeat(64)}`);
    const noIssues = new ValidationError("bad");
    expect(noIssues.issues).toEqual([]);
  });
});

describe("ValidationError", () => {
  it("forField names the component and the field", () => {
    const error = ValidationError.forField("storage", "bucket", "must not be empty");
    expect(error.message).toBe("[storage] Invalid bucket: must not be empty");
    expect(error.issues).toEqual([{ path: "bucket", message: "must not be empty" }]);
    expect(ValidationError.isInstance(error)).toBe(true);
  });

  it("fromZod lists every bad path, keeps the ZodError as cause", () => {
    const schema = z.object({
      trainingEpochs: z.number().int().min(0),
      testingHoldoutPercent: z.number().max(1),
      blocks: z.array(z.object({ text: z.string() })),
      nested: z.object({ deep: z.object({ value: z.boolean() }) }),
    });
    const result = schema.safeParse({
      trainingEpochs: -1,
      testingHoldoutPercent: 1.5,
      blocks: [{ text: "ok" }, { text: 3 }],
      nested: { deep: { value: "no" } },
    });
    expect(result.success).toBe(false);
    if (result.success) return;
    const error = ValidationError.fromZod("core", "TrainPluginInput", result.error);
    expect(error.code).toBe("VALIDATION");
    expect(error.cause).toBe(result.error);
    expect(error.issues.map((i) => i.path).sort()).toEqual(
      ["blocks[1].text", "nested.deep.value", "testingHoldoutPercent", "trainingEpochs"].sort(),
    );
    expect(error.issues).toHaveLength(result.error.issues.length);
    for (const issue of error.issues) {
      expect(issue.message.length).toBeGreaterThan(0);
      expect(error.message).toContain(`${issue.path}: ${issue.message}`);
    }
    expect(error.message.startsWith("[core] Invalid TrainPluginInput: ")).toBe(true);
  });

  it("fromZod reports a root-level failure as (root)", () => {
    const result = z.object({ a: z.string() }).safeParse("not an object");
    if (result.success) throw new Error("expected failure");
    const error = ValidationError.fromZod("runtime", "request body", result.error);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toBe("(root)");
    expect(error.message).toMatch(/^\[runtime\] Invalid request body: \(root\): /);
  });

  it("formatIssuePath", () => {
    expect(formatIssuePath([])).toBe("(root)");
    expect(formatIssuePath(["data"])).toBe("data");
    expect(formatIssuePath(["data", "trainingEpochs"])).toBe("data.trainingEpochs");
    expect(formatIssuePath(["blocks", 0, "text"])).toBe("blocks[0].text");
    expect(formatIssuePath([0, "a"])).toBe("[0].a");
    expect(formatIssuePath(["m", 1, 2])).toBe("m[1][2]");
    expect(formatIssuePath([Symbol("s")])).toBe("Symbol(s)");
  });
});

describe("httpStatusForCode", () => {
  const expected: Record<TrainableErrorCode, number> = {
    VALIDATION: 400,
    NOT_FOUND: 404,
    UNAUTHORIZED: 401,
    CONFLICT: 409,
    INTEGRITY: 502,
    REMOTE: 502,
    TRAINING: 500,
    CANCELLED: 409,
    TIMEOUT: 504,
    NOT_SUPPORTED: 501,
    INTERNAL: 500,
  };

  it.each(Object.entries(expected))("%s → %i", (code, status) => {
    expect(httpStatusForCode(code as TrainableErrorCode)).toBe(status);
    expect(HTTP_STATUS_BY_CODE[code as TrainableErrorCode]).toBe(status);
  });

  it("the table covers exactly the codes", () => {
    expect(Object.keys(HTTP_STATUS_BY_CODE).sort()).toEqual(Object.keys(expected).sort());
  });

  it("each error class maps through its code", () => {
    for (const { make, code } of all) {
      expect(httpStatusForCode(make().code)).toBe(expected[code]);
    }
  });

  it("an unknown code (from another version) falls back to 500", () => {
    expect(httpStatusForCode("SOMETHING_NEW" as TrainableErrorCode)).toBe(500);
  });
});

describe("CancelledError.throwIfAborted", () => {
  it("does nothing without a signal or with a live one", () => {
    expect(() => CancelledError.throwIfAborted(undefined)).not.toThrow();
    expect(() => CancelledError.throwIfAborted(new AbortController().signal)).not.toThrow();
  });

  it("throws a CancelledError naming the operation, with the abort reason as cause", () => {
    const controller = new AbortController();
    const reason = new Error("user pressed stop");
    controller.abort(reason);
    let caught: unknown;
    try {
      CancelledError.throwIfAborted(controller.signal, "Training");
    } catch (error) {
      caught = error;
    }
    expect(CancelledError.isInstance(caught)).toBe(true);
    expect(TimeoutError.isInstance(caught)).toBe(false);
    const error = caught as CancelledError;
    expect(error.message).toBe("Training cancelled");
    expect(error.code).toBe("CANCELLED");
    expect(error.cause).toBe(reason);
  });

  it("uses a default label and the default abort reason", () => {
    const signal = AbortSignal.abort();
    expect(() => CancelledError.throwIfAborted(signal)).toThrowError(/^Operation cancelled$/);
    try {
      CancelledError.throwIfAborted(signal);
    } catch (error) {
      expect((error as CancelledError).cause).toBe(signal.reason);
    }
  });
});
