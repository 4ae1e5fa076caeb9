import {
  ConflictError,
  NotFoundError,
  RemoteError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { describe, expect, it } from "vitest";
import { errorBody } from "./error-body.js";
import { errorFromBody } from "./error-from-body.js";

describe("errorFromBody", () => {
  it("rebuilds the typed error", () => {
    const validation = errorFromBody(
      400,
      errorBody(ValidationError.forField("x", "a", "bad")).body,
      "u",
    );
    expect(ValidationError.isInstance(validation)).toBe(true);
    expect((validation as ValidationError).issues).toEqual([{ path: "a", message: "bad" }]);
    const remote = errorFromBody(
      502,
      errorBody(new RemoteError("[x] down", { retryable: true })).body,
      "u",
    );
    expect(RemoteError.isInstance(remote) && remote.retryable).toBe(true);
    expect((remote as RemoteError).status).toBe(502);
  });

  it("keeps the class and message of every other code", () => {
    const missing = errorFromBody(404, errorBody(new NotFoundError("[x] gone")).body, "u");
    expect(NotFoundError.isInstance(missing)).toBe(true);
    expect(ConflictError.isInstance(missing)).toBe(false);
    expect(missing.message).toBe("[x] gone");
    const unsupported = errorFromBody(
      501,
      { error: { code: "NOT_SUPPORTED", message: "[x] no" } },
      "u",
    );
    expect(unsupported.code).toBe("NOT_SUPPORTED");
    expect(TrainableError.isInstance(unsupported)).toBe(true);
  });

  it("a REMOTE error is retryable only when the body says so", () => {
    const error = errorFromBody(502, { error: { code: "REMOTE", message: "[x] down" } }, "u");
    expect(RemoteError.isInstance(error) && error.retryable).toBe(false);
  });

  it("a VALIDATION error without a list of issues has none", () => {
    const error = errorFromBody(
      400,
      { error: { code: "VALIDATION", message: "m", issues: 3 } },
      "u",
    );
    expect((error as ValidationError).issues).toEqual([]);
  });

  it("treats an answer without an error code as a remote failure", () => {
    const error = errorFromBody(503, "<html>", "http://x/run");
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(error.message).toContain("HTTP 503");
    expect((error as RemoteError).retryable).toBe(true);
  });

  it("treats an unknown code as a remote failure, not retryable below 500", () => {
    const error = errorFromBody(418, { error: { code: "TEAPOT", message: "[x] tea" } }, "u");
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(error.message).toBe("[x] tea");
    expect((error as RemoteError).retryable).toBe(false);
  });
});
