import { ValidationError } from "@trainable/core";
import type { ServedPlugin } from "@trainable/plugin-runtime";
import { type CliContext, parseIntFlag } from "./context.js";

/** Where `--token` values come from when the flag is not given. */
export const TOKEN_ENV = "TRAINABLE_TOKEN";

/** The `--token` flag's parser: repeatable. */
export const collectTokens = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  value,
];

/** `--port`: an integer from 0 (a free port) to 65535. */
export function parsePort(value: string): number {
  const port = parseIntFlag(value, "--port");
  if (port > 65535)
    throw ValidationError.forField("cli", "--port", `must be at most 65535, got ${port}`);
  return port;
}

/**
 * Re-words the runtime's refusal of a token to name where it came from (`--token`, the n-th
 * `--token`, or `TRAINABLE_TOKEN` and its n-th item) — never the token itself.
 */
export function tokenError(error: unknown, source: string): unknown {
  const issue = ValidationError.isInstance(error) ? error.issues[0] : undefined;
  const at = issue && /^token(?:\[(\d+)\])?$/.exec(issue.path);
  if (!issue || !at) return error;
  const where =
    at[1] === undefined
      ? source
      : `${source} (${source === TOKEN_ENV ? "item" : "flag"} ${Number(at[1]) + 1})`;
  return new ValidationError(`[cli] Invalid ${where}: ${issue.message}`, {
    cause: error,
    issues: [{ path: source, message: issue.message }],
  });
}

/**
 * The accepted tokens: the `--token` flags, else `TRAINABLE_TOKEN` (comma-separated), else
 * none. Set-but-empty is an error, not "no token": a server meant to be protected must not
 * start open because a variable came out empty.
 */
export function resolveTokens(
  flags: string[] | undefined,
  env: string | undefined,
): { tokens?: string[]; source?: string } {
  if (flags?.length) {
    if (flags.some((t) => t.trim() === "")) {
      throw ValidationError.forField("cli", "--token", "must not be empty");
    }
    return { tokens: flags, source: "--token" };
  }
  if (env === undefined) return {};
  const tokens = env.split(",").map((t) => t.trim());
  if (tokens.some((t) => t === "")) {
    throw ValidationError.forField(
      "cli",
      TOKEN_ENV,
      "is set but empty (or has an empty item): set a token, or unset the variable",
    );
  }
  return { tokens, source: TOKEN_ENV };
}

/**
 * Resolves on SIGINT or SIGTERM, once the server has finished its in-flight requests;
 * `beforeClose` runs first (e.g. to end open event streams, which would hold the shutdown).
 */
export function untilStopped(
  c: CliContext,
  served: ServedPlugin,
  beforeClose?: () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.removeListener("SIGINT", stop);
      process.removeListener("SIGTERM", stop);
      beforeClose?.();
      c.progress.message("shutting down (finishing in-flight requests)…");
      void served.close().then(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
