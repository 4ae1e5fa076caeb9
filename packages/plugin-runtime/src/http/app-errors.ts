import { TrainableError } from "@trainable/core";
import type { Context, Hono } from "hono";
import { errorBody, INTERNAL_ERROR_MESSAGE } from "./error-body.js";

/** Where the HTTP handler reports unexpected errors (never sent to clients). */
export interface PluginAppLogger {
  error(message: string, error?: unknown): void;
}

/** Answers a request with the error body of `error` (see `errorBody`). */
export type FailResponse = (c: Context, error: unknown, taskId?: string) => Response;

/**
 * The error answer of a plugin app: the status and body `errorBody` makes; unexpected
 * failures (not a `TrainableError`, or an internal one) are also logged, with the route.
 */
export function createFailResponse(logger: PluginAppLogger, name: string): FailResponse {
  return (c, error, taskId) => {
    const { httpStatus, body } = errorBody(error, taskId);
    if (body.error.message === INTERNAL_ERROR_MESSAGE || !TrainableError.isInstance(error)) {
      logger.error(`[runtime] ${name}: ${c.req.method} ${c.req.path} failed`, error);
    }
    return c.json(body, httpStatus as 400);
  };
}

/** Errors thrown by routes answer with {@link FailResponse}; unknown routes with 404. */
export function mountErrorHandlers(app: Hono, fail: FailResponse): void {
  app.onError((error, c) => fail(c, error));
  app.notFound((c) =>
    c.json(
      errorBody(new TrainableError("NOT_FOUND", `[runtime] No route ${c.req.method} ${c.req.path}`))
        .body,
      404,
    ),
  );
}
