import { NotFoundError, RemoteError, TrainingError, ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { errorBody, INTERNAL_ERROR_MESSAGE } from "./error-body.js";
import { errorFromBody } from "./error-from-body.js";

describe("errorBody", () => {
  it("keeps a TrainableError's code and message, with the HTTP status of its code", () => {
    const { httpStatus, body } = errorBody(new NotFoundError("[x] no such thing"), "t1");
    expect(httpStatus).toBe(404);
    expect(body.status).toMatchObject({
      taskId: "t1",
      state: "failed",
      statusCode: "NOT_FOUND",
      statusMessage: "[x] no such thing",
    });
    expect(body.error).toEqual({ code: "NOT_FOUND", message: "[x] no such thing" });
  });

  it("lists validation issues", () => {
    const { httpStatus, body } = errorBody(ValidationError.forField("x", "data.a", "is required"));
    expect(httpStatus).toBe(400);
    expect(body.error.issues).toEqual([{ path: "data.a", message: "is required" }]);
  });

  it("never echoes the stack, cause or message of a non-trainable error", () => {
    const error = new Error("db password=swordfish", { cause: new Error("secret=hunter2") });
    const { httpStatus, body } = errorBody(error);
    const text = JSON.stringify(body);
    expect(httpStatus).toBe(500);
    expect(body.error).toEqual({ code: "INTERNAL", message: INTERNAL_ERROR_MESSAGE });
    expect(text).not.toMatch(/swordfish|hunter2|secret|at .*\.ts/);
  });

  it("keeps only the message of a trainable error, not its cause", () => {
    const error = new TrainingError("[test] diverged", { cause: new Error("secret=hunter2") });
    const text = JSON.stringify(errorBody(error).body);
    expect(text).toContain("[test] diverged");
    expect(text).not.toContain("hunter2");
  });
});

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
  });

  it("treats an answer without an error code as a remote failure", () => {
    const error = errorFromBody(503, "<html>", "http://x/run");
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(error.message).toContain("HTTP 503");
  });
});
