import { ValidationError } from "@trainable/core";
import type { Context } from "hono";

/** The request's JSON body; a `ValidationError` (400) when it is empty or not JSON. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    // Parsed first: a body is only looked at again (for an empty one) when it is not JSON.
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (text.trim() === "") {
      throw new ValidationError("[runtime] Empty request body: send a JSON object", {
        issues: [{ path: "(body)", message: "empty" }],
      });
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`[runtime] Invalid JSON body: ${detail}`, {
      issues: [{ path: "(body)", message: `invalid JSON: ${detail}` }],
    });
  }
}
