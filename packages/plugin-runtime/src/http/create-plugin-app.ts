import type { ServerResponse } from "node:http";
import { join } from "node:path";
import {
  type CheckpointStore,
  type ModelCache,
  parseWith,
  TrainableError,
  type TrainPluginOutput,
  ValidationError,
  validateId,
} from "@trainable/core";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  createLocalPluginClient,
  type LocalPluginClient,
} from "../client/create-local-plugin-client.js";
import type { InstanceSource } from "../service/instance-lookup.js";
import { PluginInstanceSpec } from "../service/plugin-instance.js";
import type { PluginService } from "../service/plugin-service.js";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import { errorBody, INTERNAL_ERROR_MESSAGE } from "./error-body.js";

/** Where the HTTP handler reports unexpected errors (never sent to clients). */
export interface PluginAppLogger {
  error(message: string, error?: unknown): void;
}

export interface PluginAppOptions {
  /** The checkpoint store models are loaded from and trainings saved to. */
  store: CheckpointStore;
  /** The model cache `run` loads through. */
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
   * `{dataDir}/training/{taskId}`, so a restarted server can still answer status checks.
   */
  dataDir?: string;
  /** Reports unexpected (non-`TrainableError`) failures. Default: `console.error`. */
  logger?: PluginAppLogger;
  /** Clock, for tests. */
  now?: () => Date;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
const MAX_UPDATES_PER_RESPONSE = 1000;

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
 * Bad bodies get 4xx with the problem named; failures come back as a `failed` task with a code
 * and message (HTTP status from `httpStatusForCode`), never a stack trace.
 */
export function createPluginApp(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any> | LocalPluginClient,
  options: PluginAppOptions,
): Hono {
  const client: LocalPluginClient =
    "kind" in service && service.kind === "in-process"
      ? service
      : createLocalPluginClient(service as PluginService, {
          store: options?.store,
          cache: options.cache,
          instances: options.instances,
          stateRoot: options.dataDir ? join(options.dataDir, "training") : undefined,
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

  const app = new Hono();
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
  const limitBody: MiddlewareHandler = async (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      const size = Number(length);
      if (Number.isSafeInteger(size) && size >= 0 && size <= limit) return next();
    }
    return streamedLimit(c, next);
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

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      plugin: name,
      trainable: client.trainable,
      routes: routes(alias, client.trainable, options.allowInstanceRegistration === true),
    }),
  );

  /**
   * Aborted when the client goes away. On Node (@hono/node-server) this listens on the raw
   * response instead of reading `c.req.raw.signal`, which would turn the server's lightweight
   * request into a full WHATWG Request (an AbortController and web streams per request — a
   * third of the throughput of a small `/run`). Elsewhere: the standard request signal.
   */
  const disconnectSignal = (c: Context): AbortSignal => {
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    if (!outgoing || typeof outgoing.once !== "function") return c.req.raw.signal;
    const controller = new AbortController();
    outgoing.once("close", () => {
      if (!outgoing.writableFinished) controller.abort(new Error("client disconnected"));
    });
    return controller.signal;
  };

  const run = async (c: Context) => {
    const request = parseWith(
      client.schemas.run,
      await readJson(c),
      `${name} run request`,
      "runtime",
    );
    const handle = c.req.query("handle");
    const data = await client.run(request, {
      prevalidated: true,
      handle: handle === undefined ? undefined : validateId(handle, "handle (query)"),
      signal: disconnectSignal(c),
    });
    return c.json({ data, status: { state: "succeeded" } });
  };
  app.post("/run", limitBody, run);
  if (alias) app.post(`/${alias}`, limitBody, run);

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
    const updates: Partial<TrainPluginOutput>[] = [];
    try {
      const response = await client.train(request, {
        prevalidated: true,
        signal: disconnectSignal(c),
        onUpdate: (update) => {
          if (updates.length >= MAX_UPDATES_PER_RESPONSE) updates.shift();
          updates.push(update);
        },
      });
      return c.json({ ...response, updates }, 200);
    } catch (error) {
      return fail(c, error, request.status?.taskId);
    }
  });

  app.post("/cancelTraining", limitBody, async (c) => {
    const request = parseWith(
      client.schemas.train,
      await readJson(c),
      `${name} cancelTraining request`,
      "runtime",
    );
    return c.json(await client.cancelTraining(request, { prevalidated: true }));
  });

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
