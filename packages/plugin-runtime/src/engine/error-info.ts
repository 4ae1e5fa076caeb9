import { RemoteError, TrainableError } from "@trainable/core";

/** The `{ code, message }` a task records for an error (a plugin's own failure is INTERNAL). */
export function errorInfo(error: unknown, plugin: string): { code: string; message: string } {
  if (TrainableError.isInstance(error)) return { code: error.code, message: error.message };
  const detail = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message: `[runtime] Plugin "${plugin}" failed: ${detail}` };
}

/** A failure worth repeating the call for (the connection dropped, the server restarted). */
export function isTransient(error: unknown): boolean {
  return RemoteError.isInstance(error) && error.retryable;
}
