import { join } from "node:path";
import { createModelCache } from "@trainable/cache";
import {
  type CheckpointStore,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
  type ModelCache,
  ValidationError,
} from "@trainable/core";
import {
  createLocalPluginClient,
  type LocalPluginClient,
} from "../client/create-local-plugin-client.js";
import { checkPluginService, looksLikePluginService } from "../service/check-plugin-service.js";
import type { InstanceSource } from "../service/instance-lookup.js";
import type { PluginService } from "../service/plugin-service.js";
import type { PluginAppLogger } from "./app-errors.js";
import { DEFAULT_BODY_LIMIT } from "./body-limit.js";
import { parseTokens, type TokenOption } from "./require-token.js";

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
  /**
   * Check every `/run` answer against the plugin's `outputSchema` before sending it (a plugin
   * bug becomes a 500 `INTERNAL` answer instead of a malformed one). Default false: a served
   * answer is sent as the plugin returned it — its type is the plugin's declared `Out`, and
   * the in-process client (`trainable run`, the engines, tests) checks it by default. The
   * check costs a share of `/run`'s throughput, measured in `pnpm bench`. For an app built
   * from a plugin service; a `LocalPluginClient` passed in keeps its own setting.
   */
  checkOutput?: boolean;
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
  /**
   * The records of the trainings this server started (what status checks and cancels are
   * checked against; in `{dataDir}/served-tasks/` with a `dataDir`, else in memory). A record
   * stays while its training has not been seen to end; an ended one is kept
   * `endedRetentionMs` after its end (default 7 days: a client that lost the final answer may
   * repeat its status check and get it again), then removed. `maxTasks` (default 10 000)
   * bounds the records: beyond it the oldest ended ones are removed first — on disk only
   * ended ones ever are; in memory the oldest record goes when none has ended. The folder is
   * pruned after a write, at most once per 10 minutes across all servers sharing it (or
   * per `endedRetentionMs` when shorter). Both positive integers; any other key is refused.
   */
  servedTasks?: {
    maxTasks?: number;
    endedRetentionMs?: number;
  };
  /** Clock, for tests. */
  now?: () => Date;
}

/** The options of `servedTasks`: any other key (a typo) is refused. */
const SERVED_TASKS_KEYS = new Set(["maxTasks", "endedRetentionMs"]);

/** A plugin app's options, checked, with their defaults. */
export interface ResolvedPluginApp {
  /** The plugin, as an in-process client. */
  client: LocalPluginClient;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  logger: PluginAppLogger;
  /** The plugin's route alias (`POST /{alias}`), checked. */
  alias: string | undefined;
  /** The accepted tokens, parsed; undefined: no authentication. */
  tokens: string[] | undefined;
}

/**
 * Checks what `createPluginApp` was given (throwing the `ValidationError` that names the bad
 * option) and wraps a plugin service in the in-process client the app serves.
 */
export function resolvePluginAppOptions(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any> | LocalPluginClient,
  options: PluginAppOptions,
): ResolvedPluginApp {
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
  if (options.checkOutput !== undefined && isClient(service)) {
    throw ValidationError.forField(
      "runtime",
      "checkOutput",
      "applies to an app built from a plugin service: pass it to createLocalPluginClient instead",
    );
  }
  const client: LocalPluginClient =
    "kind" in service && service.kind === "in-process"
      ? service
      : localClientOf(service as PluginService, options);
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw ValidationError.forField("runtime", "bodyLimit", "must be a positive integer (bytes)");
  }
  const logger: PluginAppLogger = options.logger ?? {
    error: (message, error) => console.error(message, error),
  };
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
  const served: unknown = options.servedTasks;
  if (
    served !== undefined &&
    (typeof served !== "object" || served === null || Array.isArray(served))
  ) {
    throw ValidationError.forField(
      "runtime",
      "servedTasks",
      "must be an object { maxTasks?, endedRetentionMs? }",
    );
  }
  const unknown = served
    ? Object.keys(served).find((key) => !SERVED_TASKS_KEYS.has(key))
    : undefined;
  if (unknown !== undefined) {
    throw ValidationError.forField(
      "runtime",
      `servedTasks.${unknown}`,
      "is not an option of servedTasks (maxTasks, endedRetentionMs)",
    );
  }
  return { client, bodyLimit: limit, logger, alias, tokens };
}

/** The in-process client a plugin app serves a plugin service through. */
function localClientOf(service: PluginService, options: PluginAppOptions): LocalPluginClient {
  return createLocalPluginClient(service, {
    store: options?.store,
    cache:
      options.cache ??
      (options.store ? createModelCache({ store: options.store, diskDir: false }) : false),
    instances: options.instances,
    stateRoot: options.dataDir ? join(options.dataDir, "training") : undefined,
    instancesDir: options.dataDir ? join(options.dataDir, "instances") : undefined,
    checkOutput: options.checkOutput ?? false,
    now: options.now,
  });
}
