import { describe, expect, it } from "vitest";
import { CancelledError } from "./cancelled-error.js";
import { ConflictError } from "./conflict-error.js";
import { errorFromCode, isTrainableErrorCode, TRAINABLE_ERROR_CODES } from "./error-from-code.js";
import { HTTP_STATUS_BY_CODE } from "./http-status.js";
import { RemoteError } from "./remote-error.js";
import { ValidationError } from "./validation-error.js";

describe("errorFromCode", () => {
  it("gives every code an error carrying that code and the message", () => {
    for (const code of TRAINABLE_ERROR_CODES) {
      const error = errorFromCode(code, `boom ${code}`);
      expect(error.code).toBe(code);
      expect(error.message).toBe(`boom ${code}`);
    }
  });

  it("lists exactly the codes the HTTP status table knows", () => {
    expect([...TRAINABLE_ERROR_CODES].sort()).toEqual(Object.keys(HTTP_STATUS_BY_CODE).sort());
  });

  it("builds the subclass with its details", () => {
    const v = errorFromCode("VALIDATION", "bad", { issues: [{ path: "x", message: "is bad" }] });
    expect(ValidationError.isInstance(v) && v.issues).toEqual([{ path: "x", message: "is bad" }]);
    const r = errorFromCode("REMOTE", "down", { status: 503, retryable: true });
    expect(RemoteError.isInstance(r) && [r.status, r.retryable]).toEqual([503, true]);
    expect(RemoteError.isInstance(errorFromCode("REMOTE", "x"))).toBe(true);
    expect(
      (errorFromCode("REMOTE", "x") as RemoteError).retryable,
      "retryable only when said",
    ).toBe(false);
    expect(ConflictError.isInstance(errorFromCode("CONFLICT", "c"))).toBe(true);
    expect(CancelledError.isInstance(errorFromCode("CANCELLED", "c"))).toBe(true);
    expect(CancelledError.isInstance(errorFromCode("CONFLICT", "c"))).toBe(false);
  });

  it("recognises codes, and nothing else", () => {
    expect(isTrainableErrorCode("NOT_FOUND")).toBe(true);
    expect(isTrainableErrorCode("toString")).toBe(false);
    expect(isTrainableErrorCode("not_found")).toBe(false);
    expect(isTrainableErrorCode(404)).toBe(false);
  });
});
