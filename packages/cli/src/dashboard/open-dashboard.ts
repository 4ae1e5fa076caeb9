import type { Hono } from "hono";
import type { CliContext } from "../context.js";
import { QUEUE_ENV, queueOptions, resolveQueue } from "../queue.js";
import { createDashboardApp } from "./create-dashboard-app.js";
import { canMutate, type DashboardAccess } from "./dashboard-access.js";
import { loadAssets } from "./dashboard-assets.js";
import { createEngineTaskSource } from "./engine-task-source.js";
import { createLocalTaskSource } from "./local-task-source.js";
import { shownPath } from "./read-only-view.js";
import { storeLabel } from "./store-label.js";
import type { TaskSource } from "./task-source.js";

/**
 * Builds the dashboard of a CLI context: its store, and the trainings of `--queue` (else
 * `TRAINABLE_QUEUE`) or of the local engine's `--data-dir`. Closed with the context. Fails
 * (before opening anything) when the package was built without the page.
 */
export async function openDashboard(
  c: CliContext,
  options: { queue?: string | false; access: DashboardAccess; signal?: AbortSignal },
): Promise<Hono> {
  // `false`: the local engine's trainings, whatever TRAINABLE_QUEUE says (`serve`'s page).
  const queue =
    options.queue === false ? undefined : resolveQueue(options.queue, c.io.env[QUEUE_ENV]);
  const assets = await loadAssets();
  const store = await c.store();
  let tasks: TaskSource;
  if (queue) {
    const { createBullmqEngine } = await import("@trainable/engine-bullmq");
    tasks = createEngineTaskSource(await createBullmqEngine({ ...queueOptions(queue), store }));
  } else {
    tasks = createLocalTaskSource({
      dataDir: c.dataDir,
      onProblem: (message) => c.io.stderr.write(`trainable: warning: dashboard ${message}\n`),
    });
  }
  c.onClose(() => tasks.close());
  // Anyone who reaches a read-only dashboard reads it: no absolute paths in what it says.
  const readOnly = !canMutate(options.access);
  return createDashboardApp({
    store,
    tasks,
    access: options.access,
    assets,
    cwd: c.io.cwd,
    ...(options.signal ? { events: { signal: options.signal } } : {}),
    label: {
      store: storeLabel(c.remote, readOnly ? c.io.cwd : undefined),
      workspace: c.workspace,
      engine: queue
        ? `queue ${queue.queueName ?? "trainable"}`
        : `local (${readOnly ? shownPath(c.dataDir, c.io.cwd) : c.dataDir})`,
    },
    onError: (message, error) =>
      c.io.stderr.write(`trainable: ${message}: ${error instanceof Error ? error.stack : error}\n`),
  });
}

/** The requests of the page at `/ui` that need no token (the page itself holds no data). */
export function isUiPageRequest(method: string, path: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  return path === "/ui" || path === "/ui/" || path.startsWith("/ui/assets/");
}
