import type { Hono } from "hono";
import { browserGuard } from "./browser-guard.js";
import { requireToken } from "./require-token.js";
import { publicRoutes } from "./route-table.js";

export interface AccessGuardOptions {
  /** The accepted tokens (parsed); undefined: no authentication. */
  tokens: string[] | undefined;
  /** The plugin's route alias (`POST /{alias}`), if any. */
  alias: string | undefined;
  /** Whether `POST /run` and its alias need the token. */
  protectRun: boolean;
  /** More requests let through without the token. */
  publicRequests?: (method: string, path: string) => boolean;
}

/**
 * Guards every route of the app, registered before them: with tokens, every request but the
 * public ones needs one (it also covers routes added later, e.g. `/tasks/*`, and unknown
 * paths, which answer 401 rather than revealing what exists); without, web pages the user
 * opens must not drive the server (CSRF, DNS rebinding).
 */
export function mountAccessGuard(app: Hono, options: AccessGuardOptions): void {
  const { tokens } = options;
  if (!tokens) {
    app.use("*", browserGuard());
    return;
  }
  const open = publicRoutes(options.alias, options.protectRun);
  const more = options.publicRequests;
  app.use(
    "*",
    requireToken({
      token: tokens,
      isPublic: (method, path) => open.has(`${method} ${path}`) || more?.(method, path) === true,
    }),
  );
}
