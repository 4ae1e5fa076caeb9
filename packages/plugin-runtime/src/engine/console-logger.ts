import type { EngineLogger } from "./drive-context.js";

/** The default logger of the engines: warnings and errors to the console. */
export const consoleLogger: EngineLogger = {
  warn: (message, error) => console.warn(message, error ?? ""),
  error: (message, error) => console.error(message, error ?? ""),
};
