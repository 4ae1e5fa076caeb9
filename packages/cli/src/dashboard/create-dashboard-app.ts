import { TrainableError } from "@trainable/core";
import { errorBody } from "@trainable/plugin-runtime";
import type { CheckpointStoreImpl } from "@trainable/storage";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Info } from "./api-types.js";
import { mountCheckpointApi } from "./checkpoint-api.js";
import { canMutate, type DashboardAccess, dashboardGuard } from "./dashboard-access.js";
import { type Asset, PAGE_CSP, pageHtml } from "./dashboard-assets.js";
import { instanceRows } from "./instance-rows.js";
import { readOnlyTasks, scrubPaths } from "./read-only-view.js";
import { type EventStreamOptions, mountTaskApi } from "./task-api.js";
import type { TaskSource } from "./task-source.js";

export interface DashboardAppOptions {
  store: CheckpointStoreImpl;
  tasks: TaskSource;
  access: DashboardAccess;
  /** The page's files (see `loadAssets`). */
  assets: Map<string, Asset>;
  /**
   * What the page says it shows, e.g. the store's location (never a credential; on a
   * read-only dashboard, no absolute path either: see `shownPath`).
   */
  label: { store: string; workspace: string; engine: string };
  /** Event streams and cancels: heartbeat, stream length, caps (`maxStreams` 64, `maxPendingCancels` 16). */
  events?: EventStreamOptions;
  /**
   * A read-only dashboard shows paths (in plugins' messages, task errors, store errors)
   * relative to this folder, else by their last part. Default: the process's working directory.
   */
  cwd?: string;
  /** Unexpected (non-`TrainableError`) failures. Default: `console.error`. */
  onError?: (message: string, error: unknown) => void;
}

const API_BODY_LIMIT = 64 * 1024;

/**
 * The dashboard: the page (`GET /`, `GET /assets/*`) and its JSON API under `/api` — plugin
 * instances (the engine's and the store's) and their `default`, trainings with live events (SSE), checkpoints with
 * set-as-default, delete and prune. Mount it anywhere (`/` of `trainable dashboard`, `/ui` of
 * `trainable serve`): the page uses relative URLs.
 */
export function createDashboardApp(options: DashboardAppOptions): Hono {
  const { store, access, assets } = options;
  // Read-only (beyond loopback, no token): anyone who reaches the port reads, so no configs
  // (plugin secrets), task inputs, archive paths, nor absolute paths in any message.
  const readOnly = !canMutate(access);
  const cwd = options.cwd ?? process.cwd();
  const tasks = readOnly ? readOnlyTasks(options.tasks, cwd) : options.tasks;
  const shown = (text: string) => (readOnly ? scrubPaths(text, cwd) : text);
  const onError = options.onError ?? ((message, error) => console.error(message, error));
  const app = new Hono();
  const fail = (c: Context, error: unknown) => {
    if (!TrainableError.isInstance(error)) onError(`[cli] dashboard: ${c.req.path} failed`, error);
    const { httpStatus, body } = errorBody(error);
    const message =
      body.error.code === "INTERNAL" && !TrainableError.isInstance(error)
        ? "[cli] Internal error (details are in the dashboard's log)"
        : body.error.message;
    return c.json({ error: { ...body.error, message: shown(message) } }, httpStatus as 400);
  };
  app.onError((error, c) => fail(c, error));
  app.notFound((c) => fail(c, new TrainableError("NOT_FOUND", `[cli] No route ${c.req.path}`)));

  const page = (c: Context) => {
    c.header("Content-Security-Policy", PAGE_CSP);
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-cache");
    return c.html(pageHtml(`trainable · ${options.label.workspace}`));
  };
  app.get("/", page);
  app.get("/index.html", page);
  app.get("/assets/:name", (c) => {
    const asset = assets.get(c.req.param("name"));
    if (!asset) throw new TrainableError("NOT_FOUND", `[cli] No asset ${c.req.param("name")}`);
    c.header("Content-Type", asset.type);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Cache-Control", "no-cache");
    return c.body(asset.body as Uint8Array<ArrayBuffer>);
  });

  const api = new Hono();
  api.onError((error, c) => fail(c, error));
  api.use("*", dashboardGuard(access));
  api.use(
    "*",
    bodyLimit({
      maxSize: API_BODY_LIMIT,
      onError: (c) =>
        c.json(
          {
            error: {
              code: "VALIDATION",
              message: `[cli] Request body too large: the limit is ${API_BODY_LIMIT} bytes`,
            },
          },
          413,
        ),
    }),
  );

  api.get("/info", (c) =>
    c.json({
      ...options.label,
      source: tasks.kind,
      readOnly,
      tokenRequired: access.tokens !== undefined || access.checkedOutside === true,
    } satisfies Info),
  );

  api.get("/instances", async (c) => c.json(await instanceRows(store, tasks, shown)));

  mountCheckpointApi(api, store);
  mountTaskApi(api, tasks, options.events);
  app.route("/api", api);
  return app;
}
