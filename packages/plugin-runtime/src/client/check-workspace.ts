import { type PluginRequest, ValidationError } from "@trainable/core";

/** Refuses a request for another workspace than the one served (`context.workspace`). */
export function checkWorkspace(request: PluginRequest<unknown>, workspace: string): void {
  const asked = request.context?.workspace;
  if (asked !== undefined && asked !== workspace) {
    throw ValidationError.forField(
      "runtime",
      "context.workspace",
      `"${asked}" is not served here (this plugin serves workspace "${workspace}")`,
    );
  }
}
