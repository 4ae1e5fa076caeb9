import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { createModelCache } from "@trainable/cache";
import {
  type CheckpointStore,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
  isFinalTaskState,
  type ModelCache,
  type PostUpdate,
  parseWith,
  RemoteError,
  type Task,
  TrainableError,
  ValidationError,
  validateId,
} from "@trainable/core";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  createLocalPluginClient,
  type LocalPluginClient,
} from "../client/create-local-plugin-client.js";
import { createTaskHost, type HostedTask } from "../hosted/create-task-host.js";
import { HOSTED_KEY, hostedAnswer, hostedStatus, mountTaskRoutes } from "../hosted/task-routes.js";
import { checkPluginService, looksLikePluginService } from "../service/check-plugin-service.js";
import type { InstanceSource } from "../service/instance-lookup.js";
import { PluginInstanceSpec } from "../service/plugin-instance.js";
import type { PluginService } from "../service/plugin-service.js";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { browserGuard } from "./browser-guard.js";
import { errorBody, INTERNAL_ERROR_MESSAGE } from "./error-body.js";
import { createIssuedTaskTable, type IssuedTaskTable } from "./issued-tasks.js";
import { parseTokens, requireToken, type TokenOption } from "./require-token.js";
import { disconnectSignal, handleQuery, RunOptions } from "./run-options.js";

/** Where the HTTP handler reports unexpected errors (never sent to clients). */
export interface PluginAppLogger {
  error(message: string, error?: unknown): void;
}

export interface PluginAppOptions {
  /** The checkpoint store models are loaded from and trainings saved to. */
  store: CheckpointStore;
  /**
   * The model cache `run` loads through. Default: an in-memory cache of this app's own
   * (`createModelCache({ store, diskDir: false })`), so a served model is loaded once, not
   * per request. `false`: every `run` loads the model afresh.
   */
  cache?: ModelCache | false;
  /**
   * The plugin instances served: a lookup (e.g. a local engine's `instances`), a `Map` or
   * record keyed by id, or a function. Omitted: any valid id, with the config made of `{}`.
   */
  instances?: InstanceSource;
  /**
   * Accept `PUT /instances/:id` (how a local engine registers the instances it trains on a
   * plugin server). Default false: only `instances` are served.
   */
  allowInstanceRegistration?: boolean;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * A folder for the server's own state: in-training model folders live under
   * `{dataDir}/training/{taskId}`, the trainings it started under `served-tasks/`, and
   * registered instances under `instances/`, so a restarted server can still answer status
   * checks and serve what it served.
   */
  dataDir?: string;
  /**
   * The bearer token clients must send (`Authorization: Bearer <token>`), or a list of
   * accepted tokens (to rotate: accept old and new, move the clients, drop the old). With a
   * token, every route needs it except `GET /health` — and `POST /run` and its alias when
   * `protectRun` is false. Missing or wrong: 401, nothing done. Omitted: no authentication
   * (`servePlugin` then only listens on a loopback address unless told `insecure`).
   * Tokens are 16–4096 characters of `A-Z a-z 0-9 - . _ ~ + /` (and trailing `=`).
   */
  token?: TokenOption;
  /**
   * With a `token`: whether `POST /run` and its alias need it too. Default true (inference
   * costs compute and loads any checkpoint a caller names); false opens them to anyone who
   * reaches the port, for a public inference endpoint. No effect without a token.
   */
  protectRun?: boolean;
  /**
   * With a `token`: more requests let through without it, e.g. the static page of a
   * dashboard mounted on the app (whose data routes check the token themselves). Asked after
   * the built-in public routes; whatever it lets through must hold nothing secret. Default:
   * none.
   */
  publicRequests?: (method: string, path: string) => boolean;
  /** Reports unexpected (non-`TrainableError`) failures. Default: `console.error`. */
  logger?: PluginAppLogger;
  /**
   * Trainings over HTTP: `POST /train` answers within `answerWithinMs` (default 2 s) — with
   * the result, or `202` and a task followed at `GET /tasks/:id/events` (Server-Sent Events,
   * a heartbeat every `heartbeatMs`, default 15 s; each stream ends after `maxStreamMs`,
   * default 60 s, and clients reconnect with `Last-Event-ID`). Finished tasks are kept for
   * replay, the last `maxFinishedTasks` (default 1000).
   */
  tasks?: {
    answerWithinMs?: number;
    heartbeatMs?: number;
    maxStreamMs?: number;
    maxFinishedTasks?: number;
  };
  /** Clock, for tests. */
  now?: () => Date;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
const MAX_UPDATES_PER_RESPONSE = 1000;

interface AppState {
  /** Whether the app requires a bearer token. */
  token: boolean;
  /** The trainings it started. */
  tasks: IssuedTaskTable;
}
const appStates = new WeakMap<Hono, AppState>();

/**
 * Whether an app built by {@link createPluginApp} requires a token; `undefined` for any other
 * Hono app (which `servePlugin` cannot vouch for).
 */
export function pluginAppRequiresToken(app: Hono): boolean | undefined {
  return appStates.get(app)?.token;
}

/** The trainings an app built by {@link createPluginApp} started (for tests and diagnostics). */
export function issuedTasksOf(app: Hono): IssuedTaskTable | undefined {
  return appStates.get(app)?.tasks;
}

/**
 * The routes open to anyone when a token is configured: `GET /health` (and `HEAD`), plus
 * `POST /run` and `POST /{alias}` when `protectRun` is false. Every other request — any
 * method, any path, including routes added later such as `/tasks/*`, and unknown ones —
 * needs the token.
 */
export function publicRoutes(alias: string | undefined, protectRun: boolean): Set<string> {
  const open = new Set(["GET /health", "HEAD /health"]);
  if (!protectRun) {
    open.add("POST /run");
    if (alias) open.add(`POST /${alias}`);
  }
  return open;
}

/**
 * A Hono app serving one plugin with the original engine's routes and JSON shapes:
 *
 * - `GET /health`
 * - `POST /run` (and `POST /{routeAlias}`, e.g. `/tag`): `PluginRequest<In>` → `{ data: Out }`
 * - `POST /getTrainingParameters`: `PluginRequest<TrainingParameterPluginInput>` → `{ data }`
 * - `POST /train`: `PluginRequest<TrainPluginInput>` (+ `save`), dispatching to `trainStatus`
 *   when `isStatusCheck` is true → `InvocableResponse<TrainPluginOutput>` (+ `updates`)
 * - `POST /cancelTraining`: the last status → a `cancelled` task
 * - `PUT /instances/:id` (when `allowInstanceRegistration`): `{ handle?, config }`
 *
 * With a `token`, every request but `GET /health` (and `POST /run` + alias when `protectRun`
 * is false) needs `Authorization: Bearer <token>` (see {@link publicRoutes}). Status checks
 * and cancels act only on trainings this app started (see {@link IssuedTaskTable}).
 *
 * Bad bodies get 4xx with the problem named; failures come back as a `failed` task with a code
 * and message (HTTP status from `httpStatusForCode`), never a stack trace.
 */
export function createPluginApp(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any> | LocalPluginClient,
  options: PluginAppOptions,
): Hono {
  const isClient = (v: object) => (v as { kind?: unknown }).kind === "in-process";
  checkPluginService(service, {
    call: "createPluginApp",
    field: "service",
    accepts: "a plugin service instance (e.g. new MyPlugin())",
    isAccepted: (v) => isClient(v) || looksLikePluginService(v),
  });
  const site = { component: "runtime", call: "createPluginApp" };
  checkOptionsObject(options, { ...site, expected: "({ store, cache?, … })" });
  if (!isClient(service)) checkCheckpointStore(options.store, site);
  checkModelCache(options.cache, site);
  const client: LocalPluginClient =
    "kind" in service && service.kind === "in-process"
      ? service
      : createLocalPluginClient(service as PluginService, {
          store: options?.store,
          cache:
            options.cache ??
            (options.store ? createModelCache({ store: options.store, diskDir: false }) : false),
          instances: options.instances,
          stateRoot: options.dataDir ? join(options.dataDir, "training") : undefined,
          instancesDir: options.dataDir ? join(options.dataDir, "instances") : undefined,
          now: options.now,
        });
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw ValidationError.forField("runtime", "bodyLimit", "must be a positive integer (bytes)");
  }
  const logger: PluginAppLogger = options.logger ?? {
    error: (message, error) => console.error(message, error),
  };
  const name = client.name;
  const alias = client.service.routeAlias;
  if (alias !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(alias)) {
    throw ValidationError.forField("runtime", "routeAlias", `"${alias}" is not a valid route name`);
  }

  const tokens = options.token === undefined ? undefined : parseTokens(options.token);
  if (options.publicRequests !== undefined && typeof options.publicRequests !== "function") {
    throw ValidationError.forField(
      "runtime",
      "publicRequests",
      "must be a function (method, path) => boolean",
    );
  }
  const tasks = createIssuedTaskTable({
    dir: options.dataDir ? join(options.dataDir, "served-tasks") : undefined,
    now: options.now,
  });

  const host = client.trainable
    ? createTaskHost({
        client,
        answerWithinMs: options.tasks?.answerWithinMs,
        maxFinishedTasks: options.tasks?.maxFinishedTasks,
        now: options.now,
        // Before the `finished` event goes out: a follower acting on it finds its task here.
        onSettled: (task, error) =>
          settle(task.taskId, task.instanceId, task.response, error, task.state === "cancelled"),
      })
    : undefined;

  const app = new Hono();
  appStates.set(app, { token: tokens !== undefined, tasks });
  const streamedLimit = bodyLimit({
    maxSize: limit,
    onError: (c) => {
      const error = new ValidationError(
        `[runtime] Request body too large: the limit is ${limit} bytes`,
        { issues: [{ path: "(body)", message: `larger than ${limit} bytes` }] },
      );
      // The rest of the body is left unread (and a streamed one is cancelled, which ends the
      // connection): tell the client not to reuse this connection for its next request.
      c.header("Connection", "close");
      return c.json(errorBody(error).body, 413);
    },
  });
  // A declared Content-Length is checked from the header (Node's parser holds the body to
  // it), which spares materializing the request stream; anything else — chunked bodies,
  // no length — goes through Hono's bodyLimit, which counts the bytes as they stream in.
  const declaredWithinLimit = (c: Context): boolean => {
    // On Node, read the headers from the incoming message: `c.req.header()` would build a
    // WHATWG Headers object for every request (a measurable share of a small /run).
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const length = incoming ? incoming.headers["content-length"] : c.req.header("content-length");
    const chunked = incoming
      ? incoming.headers["transfer-encoding"] !== undefined
      : c.req.header("transfer-encoding") !== undefined;
    if (length === undefined || chunked) return false;
    const size = Number(length);
    return Number.isSafeInteger(size) && size >= 0 && size <= limit;
  };
  const limitBody: MiddlewareHandler = async (c, next) =>
    declaredWithinLimit(c) ? next() : streamedLimit(c, next);
  /**
   * A handler behind the body limit, as one route handler (a route with a single handler
   * skips Hono's middleware composition: measurably cheaper for a small /run).
   */
  const limited = (handler: (c: Context) => Promise<Response>) => {
    const streamed = async (c: Context): Promise<Response> => {
      let answer: Response | undefined;
      const refused = await streamedLimit(c, async () => {
        answer = await handler(c);
      });
      return refused ?? answer ?? c.res;
    };
    // Not an async function: a declared length within the limit adds no promise of its own.
    return (c: Context): Promise<Response> => (declaredWithinLimit(c) ? handler(c) : streamed(c));
  };

  const fail = (c: Context, error: unknown, taskId?: string) => {
    const { httpStatus, body } = errorBody(error, taskId);
    if (body.error.message === INTERNAL_ERROR_MESSAGE || !TrainableError.isInstance(error)) {
      logger.error(`[runtime] ${name}: ${c.req.method} ${c.req.path} failed`, error);
    }
    return c.json(body, httpStatus as 400);
  };

  app.onError((error, c) => fail(c, error));
  app.notFound((c) =>
    c.json(
      errorBody(new TrainableError("NOT_FOUND", `[runtime] No route ${c.req.method} ${c.req.path}`))
        .body,
      404,
    ),
  );

  // Without a token, web pages the user opens must not drive the server (CSRF, DNS rebinding).
  if (!tokens) app.use("*", browserGuard());
  if (tokens) {
    // Registered before every route: it also covers routes added below later (e.g. /tasks/*)
    // and unknown paths, which answer 401 rather than revealing what exists.
    const open = publicRoutes(alias, options.protectRun !== false);
    const more = options.publicRequests;
    app.use(
      "*",
      requireToken({
        token: tokens,
        isPublic: (method, path) => open.has(`${method} ${path}`) || more?.(method, path) === true,
      }),
    );
  }

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      plugin: name,
      trainable: client.trainable,
      routes: routes(alias, client.trainable, options.allowInstanceRegistration === true),
    }),
  );

  const run = async (c: Context) => {
    const request = parseWith(
      client.schemas.run,
      await readJson(c),
      `${name} run request`,
      "runtime",
    );
    const handle = handleQuery(c);
    // The disconnect signal is made on first use: a served model answering from memory
    // never needs it, and an AbortController per request is a measurable share of a /run.
    const data = await client.run(
      request,
      new RunOptions(handle === undefined ? undefined : validateId(handle, "handle (query)"), c),
    );
    return c.json({ data, status: { state: "succeeded" } });
  };
  app.post("/run", limited(run));
  if (alias) app.post(`/${alias}`, limited(run));

  app.post("/getTrainingParameters", limitBody, async (c) => {
    const request = parseWith(
      client.schemas.trainingParameters,
      await readJson(c),
      `${name} getTrainingParameters request`,
      "runtime",
    );
    const data = await client.getTrainingParameters(request, { prevalidated: true });
    return c.json({ data, status: { state: "succeeded" } });
  });

  app.post("/train", limitBody, async (c) => {
    const request = parseWith(
      client.schemas.train,
      await readJson(c),
      `${name} train request`,
      "runtime",
    );
    if (!client.trainable || !host) {
      return c.json(await client.train(request, { prevalidated: true }), 200);
    }
    const given = request.status?.taskId;
    if (request.isStatusCheck === true) {
      // A training hosted here (its train call outlasted the request): what it did so far.
      // Answered from the host's own record, the plugin is not called.
      const hosted = hostedStatus(host, request, instanceIdOf(request));
      if (hosted) return c.json(hosted.body as object, hosted.httpStatus as 200);
      // Without a task id, the client answers its own 400 before reaching the plugin.
      if (given !== undefined) {
        await tasks.check(
          validateId(given, "status.taskId"),
          instanceIdOf(request),
          request.status?.remoteStatusInput,
          "check",
        );
      }
      return statusCheck(c, request);
    }
    const instanceId = instanceIdOf(request);
    const taskId = validateId(given ?? randomUUID(), "status.taskId");
    // A repeated call (`retry`) continues its task: the same check as a status check.
    if (given !== undefined && request.retry === true) {
      await tasks.retry(taskId, instanceId, request.status?.remoteStatusInput);
    } else {
      await tasks.start(taskId, instanceId);
    }
    // The call runs detached from this request (a dropped connection is not a cancel): the
    // answer comes within answerWithinMs, or it is 202 and the task to follow.
    const task = await host.start(
      {
        ...request,
        status: { ...request.status, taskId, state: request.status?.state ?? "waiting" },
      },
      instanceId,
    );
    if (!task.response && !task.error) {
      await tasks.issue(taskId, instanceId, { [HOSTED_KEY]: taskId }, { create: false });
    }
    const answer = hostedAnswer(task);
    const body = task.response
      ? { ...task.response, updates: host.updates(task.taskId).slice(-MAX_UPDATES_PER_RESPONSE) }
      : answer.body;
    return c.json(body as object, answer.httpStatus as 200);
  });

  /** A status check of the plugin's own job (`trainStatus`), answered within the request. */
  const statusCheck = async (c: Context, request: TrainRequest) => {
    const signal = disconnectSignal(c);
    const updates: PostUpdate[] = [];
    try {
      const response = await client.train(request, {
        prevalidated: true,
        signal,
        onUpdate: (update) => {
          if (updates.length >= MAX_UPDATES_PER_RESPONSE) updates.shift();
          updates.push(update);
        },
      });
      await settle(request.status?.taskId, instanceIdOf(request), response, undefined, false);
      return c.json({ ...response, updates }, 200);
    } catch (error) {
      await settle(request.status?.taskId, instanceIdOf(request), undefined, error, signal.aborted);
      return fail(c, error, request.status?.taskId);
    }
  };

  /**
   * Keeps the issued-task table in step with a train or status-check answer: a final answer
   * ends the task, a running one records the `remoteStatusInput` to check next; an
   * interrupted call or a transient failure keeps the task (the client may retry or cancel),
   * any other failure ended it.
   */
  async function settle(
    taskId: string | undefined,
    instanceId: string,
    response: TrainResponse | undefined,
    error: unknown,
    interrupted: boolean,
  ): Promise<void> {
    if (taskId === undefined) return;
    if (response) {
      if (isFinalTaskState(response.status.state)) await tasks.end(taskId);
      else
        await tasks.issue(taskId, instanceId, response.status.remoteStatusInput, { create: false });
      return;
    }
    if (!(interrupted || (RemoteError.isInstance(error) && error.retryable))) {
      await tasks.end(taskId).catch(() => {});
    }
  }

  app.post("/cancelTraining", limitBody, async (c) => {
    const request = parseWith(
      client.schemas.train,
      await readJson(c),
      `${name} cancelTraining request`,
      "runtime",
    );
    if (!client.trainable || !host)
      return c.json(await client.cancelTraining(request, { prevalidated: true }));
    const taskId = validateId(request.status?.taskId, "status.taskId");
    await tasks.check(taskId, instanceIdOf(request), request.status?.remoteStatusInput, "cancel");
    try {
      // A training hosted here: its call stops, and the plugin's job (the hosted call knows
      // the status it answered, whatever status the caller sent).
      const hosted = host.get(taskId);
      const response = hosted
        ? { status: cancelledStatus(await host.cancel(taskId)) }
        : await client.cancelTraining(request, { prevalidated: true });
      await tasks.forget(taskId);
      return c.json(response);
    } catch (error) {
      if (!(RemoteError.isInstance(error) && error.retryable)) {
        await tasks.forget(taskId).catch(() => {});
      }
      throw error;
    }
  });

  if (host) mountTaskRoutes(app, host, options.tasks);

  app.put("/instances/:id", limitBody, async (c) => {
    const id = validateId(c.req.param("id"), "instance id (path)");
    const spec = parseWith(PluginInstanceSpec, await readJson(c), "plugin instance", "runtime");
    if (options.allowInstanceRegistration !== true) {
      const known = await client.resolveInstance(id).catch(() => undefined);
      if (known && sameInstance(known, spec, client)) {
        return c.json({ instance: { id, handle: known.handle } });
      }
      throw new TrainableError(
        "NOT_SUPPORTED",
        `[runtime] Instance registration is disabled on this server: configure instance "${id}" in its "instances" option (or start it with allowInstanceRegistration)`,
      );
    }
    const instance = await client.registerInstance({
      id,
      handle: spec.handle,
      config: spec.config,
    });
    return c.json({ instance: { id: instance.id, handle: instance.handle } });
  });

  return app;
}

/** The status a cancel of a hosted training answers: the state its call and job ended in. */
function cancelledStatus(task: HostedTask): Task {
  return {
    taskId: task.taskId,
    state: task.state,
    ...(task.statusMessage ? { statusMessage: task.statusMessage } : {}),
    updatedAt: task.updatedAt,
  };
}

/** The plugin instance a training request is for (validated): as the client resolves it. */
function instanceIdOf(request: TrainRequest): string {
  const id = request.context?.pluginInstanceId ?? request.data?.pluginInstance;
  if (id === undefined) {
    throw ValidationError.forField("runtime", "context.pluginInstanceId", "is required");
  }
  return validateId(
    id,
    request.context?.pluginInstanceId === undefined
      ? "data.pluginInstance"
      : "context.pluginInstanceId",
  );
}

function routes(alias: string | undefined, trainable: boolean, registration: boolean): string[] {
  const list = ["GET /health", "POST /run"];
  if (alias) list.push(`POST /${alias}`);
  if (trainable) list.push("POST /getTrainingParameters", "POST /train", "POST /cancelTraining");
  if (registration) list.push("PUT /instances/:id");
  return list;
}

function sameInstance(
  known: { handle?: string; config: unknown },
  asked: { handle?: string; config?: unknown },
  client: LocalPluginClient,
): boolean {
  if ((known.handle ?? undefined) !== (asked.handle ?? undefined)) return false;
  let config: unknown;
  try {
    config = TrainablePluginService.isInstance(client.service)
      ? client.service.parseConfig(asked.config)
      : asked.config;
  } catch {
    return false;
  }
  return JSON.stringify(config) === JSON.stringify(known.config);
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") {
    throw new ValidationError("[runtime] Empty request body: send a JSON object", {
      issues: [{ path: "(body)", message: "empty" }],
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`[runtime] Invalid JSON body: ${detail}`, {
      issues: [{ path: "(body)", message: `invalid JSON: ${detail}` }],
    });
  }
}
