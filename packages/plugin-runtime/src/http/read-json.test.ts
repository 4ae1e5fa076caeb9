import { ValidationError } from "@trainable/core";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { readJson } from "./read-json.js";

const app = new Hono();
app.post("/", async (c) => {
  try {
    return c.json({ value: await readJson(c) });
  } catch (error) {
    return c.json({ valid: ValidationError.isInstance(error), message: (error as Error).message });
  }
});
const post = async (body: string) =>
  (await (await app.request("/", { method: "POST", body })).json()) as {
    value?: unknown;
    valid?: boolean;
    message?: string;
  };

describe("readJson", () => {
  it("parses the body", async () => {
    expect(await post('{"a":[1,2]}')).toEqual({ value: { a: [1, 2] } });
  });

  it("refuses an empty body", async () => {
    expect(await post("  \n")).toEqual({
      valid: true,
      message: "[runtime] Empty request body: send a JSON object",
    });
  });

  it("refuses a body that is not JSON, with the parser's reason", async () => {
    const answer = await post("{nope");
    expect(answer.valid).toBe(true);
    expect(answer.message).toMatch(/^\[runtime\] Invalid JSON body: /);
  });
});
