import { NotFoundError, TrainingError, ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { errorBody, INTERNAL_ERROR_MESSAGE } from "./error-body.js";

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
