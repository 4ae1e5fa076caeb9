import { RemoteError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { normalizeUpdate, parseTrainResponse } from "./train-response-body.js";

describe("parseTrainResponse", () => {
  it("parses a train answer with its updates", () => {
    const body = {
      status: { taskId: "t1", state: "running" },
      updates: [{ statusMessage: "go" }],
    };
    expect(parseTrainResponse(body, "train", "http://x.test")).toMatchObject(body);
  });

  it("refuses an answer without a status, naming the server and the call", () => {
    try {
      parseTrainResponse({}, "cancelTraining", "http://x.test");
      expect.unreachable();
    } catch (error) {
      expect(RemoteError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe(
        "[runtime] Plugin server http://x.test answered cancelTraining with an invalid body: status: missing",
      );
    }
    expect(() => parseTrainResponse({ status: { state: 7 } }, "train", "s")).toThrow(
      /answered train with an invalid body/,
    );
  });
});

describe("normalizeUpdate", () => {
  it("keeps a PostUpdate and wraps an older server's partial output", () => {
    expect(normalizeUpdate({ statusMessage: "x" })).toEqual({ statusMessage: "x" });
    expect(normalizeUpdate({ trainingProgress: { p: 1 } })).toEqual({
      output: { trainingProgress: { p: 1 } },
    });
  });
});
