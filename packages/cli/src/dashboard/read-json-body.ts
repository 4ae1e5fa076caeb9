import { ValidationError } from "@trainable/core";
import type { Context } from "hono";

/** A request's JSON body (the size is limited before, by the API's body limit). */
export async function readJsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw ValidationError.forField(
      "cli",
      "(body)",
      `send JSON with Content-Type: application/json (got ${type ? `"${type}"` : "none"})`,
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw ValidationError.forField("cli", "(body)", `invalid JSON: ${detail}`);
  }
}
