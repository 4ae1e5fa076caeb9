import { ValidationError } from "@trainable/core";
import type { Context } from "hono";

/** The request's JSON body; a `ValidationError` (400) when it is empty or not JSON. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") {
    throw new ValidationError("[runtime] Empty request body: send a JSON object", {
      issues: [{ path: "(body)", message: "empty" }],
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`[runtime] Invalid JSON body: ${detail}`, {
      issues: [{ path: "(body)", message: `invalid JSON: ${detail}` }],
    });
  }
}
