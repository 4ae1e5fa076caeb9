import { describeValue, isPromiseLike, ValidationError } from "@trainable/core";

/**
 * Checks the plugin argument of `createPluginApp` / `servePlugin`: an instance of a plugin
 * service (or what else `accepts` says). The likely mistakes — the class instead of an
 * instance, an un-awaited promise (a dynamic `import()`), nothing — are named with the fix.
 */
export function checkPluginService(
  value: unknown,
  options: { call: string; field: string; accepts: string; isAccepted: (value: object) => boolean },
): void {
  const { call, field, accepts } = options;
  const fail = (problem: string) =>
    new ValidationError(`[runtime] Invalid ${field} passed to ${call}: ${problem}`, {
      issues: [{ path: field, message: problem }],
    });
  if (isPromiseLike(value)) {
    throw fail(
      `${field} is a Promise: did you forget await? (e.g. (await import("./plugin.js")).default)`,
    );
  }
  if (typeof value === "function") {
    const name = (value as { name?: string }).name || "YourPlugin";
    throw fail(`${field} is ${describeValue(value)}: pass an instance, new ${name}()`);
  }
  if (value === null || typeof value !== "object" || !options.isAccepted(value)) {
    throw fail(`expected ${accepts}, got ${describeValue(value)}`);
  }
}

/** True for an object shaped like a `PluginService` (a `run()` and an `inputSchema`). */
export function looksLikePluginService(value: object): boolean {
  const v = value as { run?: unknown; inputSchema?: { safeParse?: unknown } };
  return typeof v.run === "function" && typeof v.inputSchema?.safeParse === "function";
}
