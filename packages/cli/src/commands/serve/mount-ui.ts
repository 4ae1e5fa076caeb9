import type { Hono } from "hono";
import type { CliContext } from "../../context.js";
import { openDashboard } from "../../dashboard/open-dashboard.js";

export interface MountUiOptions {
  /** The host the server listens on (the dashboard's access rule). */
  host: string;
  /** The server checks a token before a request reaches the dashboard. */
  token: boolean;
  /** Aborted when the server stops. */
  signal: AbortSignal;
}

/**
 * The dashboard at `/ui/`, behind this server's token (checked before the request reaches
 * it), on the local engine's trainings. A build without the page serves without it (warned).
 */
export async function mountUi(c: CliContext, app: Hono, options: MountUiOptions): Promise<boolean> {
  try {
    const dashboard = await openDashboard(c, {
      queue: false,
      signal: options.signal,
      access: { host: options.host, ...(options.token ? { checkedOutside: true } : {}) },
    });
    app.get("/ui", (ctx) => ctx.redirect("/ui/", 308));
    app.mount("/ui", dashboard.fetch);
    return true;
  } catch (error) {
    c.io.stderr.write(
      `trainable: warning: serving without the dashboard at /ui: ${error instanceof Error ? error.message : error}\n`,
    );
    return false;
  }
}
