import { ConflictError, NotFoundError, TrainableError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { PreconditionFailedError } from "./precondition-failed-error.js";

describe("PreconditionFailedError", () => {
  it("is a ConflictError with its own mark", () => {
    const error = new PreconditionFailedError("a/b");
    expect(error.key).toBe("a/b");
    expect(error.name).toBe("PreconditionFailedError");
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toBe('[storage] Precondition failed for key "a/b"');
    expect(PreconditionFailedError.isInstance(error)).toBe(true);
    expect(ConflictError.isInstance(error)).toBe(true);
    expect(TrainableError.isInstance(error)).toBe(true);
  });

  it("is not confused with its parent or siblings", () => {
    expect(PreconditionFailedError.isInstance(new ConflictError("x"))).toBe(false);
    expect(PreconditionFailedError.isInstance(new NotFoundError("x"))).toBe(false);
    expect(PreconditionFailedError.isInstance(null)).toBe(false);
    expect(PreconditionFailedError.isInstance("PreconditionFailedError")).toBe(false);
  });

  it("is recognised across copies of the package (by its Symbol.for mark)", () => {
    const foreign = Object.assign(new Error("x"), {
      [Symbol.for("trainable.error.PreconditionFailedError")]: true,
    });
    expect(PreconditionFailedError.isInstance(foreign)).toBe(true);
  });
});
