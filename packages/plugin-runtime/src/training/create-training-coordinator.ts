import { randomBytes, randomUUID } from "node:crypto";
import { access, mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelledError,
  type CheckpointStore,
  ConflictError,
  type InvocableResponse,
  invocableResponseSchema,
  isFinalTaskState,
  type ModelCache,
  NotFoundError,
  type PostUpdate,
  parsePostUpdate,
  RemoteError,
  type Task,
  TrainableModel,
  type TrainContext,
  TrainingError,
  TrainPluginOutput,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import type { PluginInstance } from "../service/plugin-instance.js";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import { raceSignal } from "../util/race-signal.js";
import { generateHandle } from "./generate-handle.js";
import type { TrainRequest } from "./train-request.js";

/** A training response whose `status` is always set. */
export type TrainResponse = InvocableResponse<TrainPluginOutput> & { status: Task };

export interface TrainingCoordinatorOptions {
  service: AnyTrainablePluginService;
  /** Where finished trainings are saved. */
  store: CheckpointStore;
  /** Told about each save, so the next `run` serves the new model at once. */
  cache?: ModelCache | false;
  /** Parent of per-training scratch folders. Default: the OS temp dir. */
  scratchRoot?: string;
  /**
   * Keeps each in-training model's folder under `{stateRoot}/{taskId}` between calls, so a
   * status check after a restart of this process can rebuild the model. Per-call
   * `stateDir` wins. Without either, a status check after a restart gets a fresh model that
   * must rebuild itself from `status.remoteStatusInput` (the original's stateless way).
   */
  stateRoot?: string;
  /** In-training models kept in memory between calls. Default 1000 (oldest dropped first). */
  maxLiveModels?: number;
  now?: () => Date;
}

export interface TrainCallOptions<Config> {
  /** The instance being trained (config validated). */
  instance: PluginInstance<Config>;
  signal?: AbortSignal;
  /** Receives each `postUpdate` of the model, checked and normalized. */
  onUpdate?: (update: PostUpdate) => void;
  /** Where this training's in-training model folder is kept between calls. */
  stateDir?: string;
}

/**
 * Runs one plugin's side of the training lifecycle, the same way in-process and behind HTTP:
 * `train` and `trainStatus` with a model that lives across calls, and — when a training
 * succeeds — `model.saveRemote` to the handle the request asks (moving `default` unless told
 * not to). Whoever hosts the coordinator saves: the engine's process for in-process
 * plugins, the plugin server's process for plugins served over HTTP.
 */
export interface TrainingCoordinator {
  /** `train` (or `trainStatus` when `request.isStatusCheck`), then save on success. */
  train(request: TrainRequest, options: TrainCallOptions<unknown>): Promise<TrainResponse>;
  /** Aborts an in-flight call for the task, calls the plugin's `cancelTraining`, forgets the model. */
  cancel(request: TrainRequest, options: TrainCallOptions<unknown>): Promise<TrainResponse>;
}

interface LiveTraining {
  model: TrainableModel<unknown>;
  controllers: Set<AbortController>;
  /** The plugin's last `running` status. */
  status?: Task;
}

const ResponseSchema = invocableResponseSchema(TrainPluginOutput);

export function createTrainingCoordinator(
  options: TrainingCoordinatorOptions,
): TrainingCoordinator {
  const { service, store } = options;
  const cache = options.cache ?? false;
  const now = options.now ?? (() => new Date());
  const scratchRoot = options.scratchRoot ?? tmpdir();
  const maxLive = options.maxLiveModels ?? 1000;
  const live = new Map<string, LiveTraining>();
  const pluginName = service.pluginName;

  const stateDirOf = (taskId: string, callOptions: TrainCallOptions<unknown>) =>
    callOptions.stateDir ?? (options.stateRoot ? join(options.stateRoot, taskId) : undefined);

  const remember = (taskId: string, entry: LiveTraining) => {
    live.delete(taskId);
    live.set(taskId, entry);
    while (live.size > maxLive) {
      const oldest = live.keys().next().value as string;
      live.delete(oldest);
    }
  };

  /**
   * True when a status check can only reach the default `trainStatus` (the plugin trains
   * synchronously: its trainings finish inside `train`, so there is never a task to poll).
   */
  const synchronousOnly = () =>
    service.trainStatus === TrainablePluginService.prototype.trainStatus &&
    service.modelClass.prototype.trainStatus === TrainableModel.prototype.trainStatus;

  interface LoadedState {
    entry: LiveTraining;
    /** The plugin's last `running` status, kept with the model (for a reattach). */
    status?: Task;
  }

  /** The live model of a task, or one rebuilt from its kept state. */
  async function modelFor(
    taskId: string,
    callOptions: TrainCallOptions<unknown>,
  ): Promise<LoadedState> {
    const existing = live.get(taskId);
    if (existing) return { entry: existing, status: existing.status };
    const model = service.createModel(callOptions.instance.config);
    const stateDir = stateDirOf(taskId, callOptions);
    const kept = stateDir ? await readState(stateDir) : undefined;
    if (kept) await model.loadFromFolder(kept.modelDir);
    const entry: LiveTraining = { model, controllers: new Set(), status: kept?.status };
    remember(taskId, entry);
    return { entry, status: kept?.status };
  }

  /**
   * Keeps a training's state — its model (`saveToFolder`) and the status the plugin just
   * answered — as one unit under `stateDir` (`model/`, `status.json`), replaced atomically
   * enough for a kill: the new unit is written and flushed beside the old, the old moved to
   * `.previous`, the new renamed into place; a reader takes `.previous` when the rename did
   * not happen.
   */
  async function persistState(
    model: TrainableModel<unknown>,
    status: Task,
    stateDir: string,
  ): Promise<void> {
    const tmp = `${stateDir}.${randomBytes(6).toString("hex")}.tmp`;
    const previous = `${stateDir}.previous`;
    await mkdir(join(tmp, "model"), { recursive: true });
    try {
      await model.saveToFolder(join(tmp, "model"));
      await writeFile(join(tmp, "status.json"), JSON.stringify(status));
      await fsyncTree(tmp);
      await rm(previous, { recursive: true, force: true });
      if (await exists(stateDir)) await rename(stateDir, previous);
      await rename(tmp, stateDir);
      await rm(previous, { recursive: true, force: true });
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
  }

  async function readState(
    stateDir: string,
  ): Promise<{ modelDir: string; status?: Task } | undefined> {
    for (const dir of [stateDir, `${stateDir}.previous`]) {
      if (!(await exists(join(dir, "model")))) continue;
      const status = await readFile(join(dir, "status.json"), "utf8").then(
        (text) => JSON.parse(text) as Task,
        () => undefined,
      );
      return { modelDir: join(dir, "model"), status };
    }
    return undefined;
  }

  async function cleanup(taskId: string, callOptions: TrainCallOptions<unknown>): Promise<void> {
    live.delete(taskId);
    const stateDir = stateDirOf(taskId, callOptions);
    await Promise.all([
      stateDir ? rm(stateDir, { recursive: true, force: true }) : undefined,
      stateDir ? rm(`${stateDir}.previous`, { recursive: true, force: true }) : undefined,
      rm(scratchDirOf(taskId), { recursive: true, force: true }),
    ]);
  }

  const scratchDirOf = (taskId: string) => join(scratchRoot, `trainable-train-${taskId}`);

  function checkRequest(request: TrainRequest, callOptions: TrainCallOptions<unknown>) {
    if (!request.data) throw ValidationError.forField("runtime", "data", "is required");
    if (request.data.pluginInstance !== callOptions.instance.id) {
      throw ValidationError.forField(
        "runtime",
        "data.pluginInstance",
        `"${request.data.pluginInstance}" does not match the plugin instance "${callOptions.instance.id}" the request is for`,
      );
    }
    const taskId = request.isStatusCheck
      ? request.status?.taskId
      : (request.status?.taskId ?? randomUUID());
    if (taskId === undefined) {
      throw ValidationError.forField("runtime", "status.taskId", "is required for a status check");
    }
    return validateId(taskId, "status.taskId");
  }

  function normalize(
    raw: unknown,
    taskId: string,
    what: string,
    startedAt?: string,
  ): TrainResponse {
    const result = ResponseSchema.safeParse(raw ?? {});
    if (!result.success) {
      const problems = ValidationError.fromZod(
        "runtime",
        `${pluginName}.${what} response`,
        result.error,
      );
      throw new TrainingError(
        `[runtime] ${pluginName}.${what} returned an invalid response: ${problems.message}`,
      );
    }
    const response = result.data as InvocableResponse<TrainPluginOutput>;
    const state = response.status?.state ?? (response.error ? "failed" : "succeeded");
    const at = now().toISOString();
    const status: Task = { ...response.status, taskId, state, updatedAt: at };
    if (startedAt && !status.startedAt) status.startedAt = startedAt;
    if (state === "failed") {
      status.statusMessage ??= response.error?.message ?? `[runtime] ${pluginName} training failed`;
      status.statusCode ??= response.error?.code ?? "TRAINING";
    }
    if (isFinalTaskState(state)) status.finishedAt ??= at;
    return { ...response, status };
  }

  /** A save the plugin made itself through `context.checkpoint.store`. */
  interface SelfSave {
    handle: string;
    ref: { digest: string; archivePath: string };
    defaultMoved: boolean;
  }

  async function save(
    request: TrainRequest,
    response: TrainResponse,
    model: TrainableModel<unknown>,
    callOptions: TrainCallOptions<unknown>,
    signal: AbortSignal,
    selfSaves: SelfSave[],
    handle: string,
  ): Promise<TrainResponse> {
    const data: TrainPluginOutput = { ...response.data, pluginInstanceId: callOptions.instance.id };
    if (data.archivePath) {
      // A plugin that saved by itself (the original's style) reports its archivePath: record
      // the handle it really saved to, when it saved through its context's store.
      const own = selfSaves.findLast((s) => s.ref.archivePath === data.archivePath);
      return {
        ...response,
        data,
        status: {
          ...response.status,
          output: own
            ? {
                handle: own.handle,
                digest: own.ref.digest,
                archivePath: own.ref.archivePath,
                setAsDefault: own.defaultMoved,
              }
            : { archivePath: data.archivePath },
        },
      };
    }
    CancelledError.throwIfAborted(signal, "[runtime] Training");
    const taskId = request.status?.taskId;
    const saved = await model
      .saveRemote({
        store,
        pluginInstanceId: callOptions.instance.id,
        handle,
        setAsDefault: request.save?.setAsDefault ?? true,
        // The store-side fence: only one save of a task can create its handle.
        ...(request.save?.createOnly ? { expectedDigest: null } : {}),
        metadata: {
          trainPluginInput: request.data,
          trainingResults: data.trainingResults,
          ...(data.inferenceParams ? { inferenceParams: data.inferenceParams } : {}),
          // Lets a repeated train call find this save instead of saving twice.
          trainingTaskId: taskId,
        },
        cache,
        signal,
      })
      .catch(async (error: unknown) => {
        // Another driver of this task (it took over while this one was frozen) saved first:
        // answer its save; any other conflict stands.
        if (!ConflictError.isInstance(error) || !request.save?.createOnly || !taskId) throw error;
        const theirs = await savedBefore({ ...request, retry: true }, taskId, callOptions, signal);
        if (!theirs) throw error;
        return theirs;
      });
    if (!("ref" in saved)) return saved;
    data.archivePath = saved.archivePath;
    return {
      ...response,
      data,
      status: {
        ...response.status,
        output: {
          handle,
          digest: saved.ref.digest,
          archivePath: saved.archivePath,
          setAsDefault: saved.defaultRef !== undefined,
        },
      },
    };
  }

  const handleFor = (request: TrainRequest) => request.save?.handle ?? generateHandle(now());

  /**
   * A repeated train call (`retry`) for a training that already saved: the handle it was
   * asked to save to names a checkpoint this task made (its metadata says so). Answers that
   * save instead of training again.
   */
  async function savedBefore(
    request: TrainRequest,
    taskId: string,
    callOptions: TrainCallOptions<unknown>,
    signal: AbortSignal | undefined,
  ): Promise<TrainResponse | undefined> {
    if (!request.retry || request.save?.handle === undefined) return undefined;
    const ref = await store
      .resolve({ pluginInstanceId: callOptions.instance.id, handle: request.save.handle, signal })
      .catch((error: unknown) => {
        if (NotFoundError.isInstance(error)) return undefined;
        throw error;
      });
    if (ref?.metadata.trainingTaskId !== taskId) return undefined;
    const at = now().toISOString();
    const results = ref.metadata.trainingResults as TrainPluginOutput["trainingResults"];
    return {
      data: {
        pluginInstanceId: callOptions.instance.id,
        archivePath: ref.archivePath,
        ...(results ? { trainingResults: results } : {}),
      },
      status: {
        taskId,
        state: "succeeded",
        updatedAt: at,
        finishedAt: at,
        statusMessage: "Training succeeded (found its saved checkpoint)",
        output: { handle: ref.handle, digest: ref.digest, archivePath: ref.archivePath },
      },
    };
  }

  function contextFor(
    request: TrainRequest,
    taskId: string,
    signal: AbortSignal,
    callOptions: TrainCallOptions<unknown>,
    selfSaves: SelfSave[],
    handle: string,
  ): TrainContext {
    return {
      signal,
      scratchDir: scratchDirOf(taskId),
      postUpdate(update) {
        // Checked at the call: a bad update is the plugin's error, thrown back to it.
        const parsed = parsePostUpdate(update);
        try {
          callOptions.onUpdate?.(parsed);
        } catch {
          // A failing listener is not the plugin's problem.
        }
      },
      checkpoint: {
        store: recordingStore(store, selfSaves, { handle, taskId }),
        pluginInstanceId: callOptions.instance.id,
        handle,
        setAsDefault: request.save?.setAsDefault ?? true,
      },
    };
  }

  return {
    async train(request, callOptions) {
      const taskId = checkRequest(request, callOptions);
      const statusCheck = request.isStatusCheck === true;
      const what = statusCheck ? "trainStatus" : "train";
      // A repeated call (the caller lost the answer of the last one) for a training that has
      // already saved: answer that save, never a second one.
      if (request.retry) {
        const found = await savedBefore(request, taskId, callOptions, callOptions.signal);
        if (found) {
          await cleanup(taskId, callOptions);
          return found;
        }
      }
      if (statusCheck && !live.has(taskId) && synchronousOnly()) {
        const stateDir = stateDirOf(taskId, callOptions);
        if (!(stateDir && (await readState(stateDir)))) {
          // A client asking about a task this plugin never left running: its mistake (404),
          // not a failure of the plugin.
          throw new NotFoundError(
            `[runtime] No training task "${taskId}" to check: ${pluginName} trains synchronously, so its trainings finish in train() and leave nothing to poll`,
          );
        }
      }
      // A repeated train call continues the training it repeats: the save it already made,
      // or (its model was kept when train answered "running") its job, checked with trainStatus.
      let reattach = false;
      if (!statusCheck && request.retry) {
        const stateDir = stateDirOf(taskId, callOptions);
        reattach =
          live.has(taskId) || (stateDir !== undefined && (await readState(stateDir)) !== undefined);
      } else if (!statusCheck && request.status?.taskId !== undefined) {
        // A caller-chosen id must not take over a training that is live or left state behind
        // (its model and state folder would be replaced, then cleaned up).
        const stateDir = callOptions.stateDir ? undefined : stateDirOf(taskId, callOptions);
        if (live.has(taskId) || (stateDir && (await readState(stateDir)))) {
          throw new ConflictError(
            `[runtime] Training task "${taskId}" already exists: start a new training without status.taskId, retry it with retry: true, or check it with isStatusCheck`,
          );
        }
      }
      const checking = statusCheck || reattach;
      const loaded = checking ? await modelFor(taskId, callOptions) : undefined;
      const entry: LiveTraining = loaded
        ? loaded.entry
        : {
            model: service.createModel(callOptions.instance.config),
            controllers: new Set<AbortController>(),
          };
      if (!checking) remember(taskId, entry);
      const selfSaves: SelfSave[] = [];
      const handle = handleFor(request);
      const controller = new AbortController();
      const signal = callOptions.signal
        ? AbortSignal.any([callOptions.signal, controller.signal])
        : controller.signal;
      entry.controllers.add(controller);
      const startedAt = statusCheck ? request.status?.startedAt : now().toISOString();
      try {
        await mkdir(scratchDirOf(taskId), { recursive: true });
        const context = contextFor(request, taskId, signal, callOptions, selfSaves, handle);
        // A reattach checks the job with the status its train call answered (kept with the model).
        const checkRequest = reattach
          ? { ...request, isStatusCheck: true, status: loaded?.status ?? request.status }
          : request;
        const raw = checking
          ? service.trainStatus(checkRequest, entry.model, context)
          : service.train(request, entry.model, context);
        let response = normalize(
          await raceSignal(raw, signal, "Training"),
          taskId,
          checking ? "trainStatus" : what,
          startedAt,
        );
        const state = response.status.state;
        if (state === "succeeded") {
          response = await save(
            request,
            response,
            entry.model,
            callOptions,
            signal,
            selfSaves,
            handle,
          );
        } else if (!isFinalTaskState(state)) {
          // Keep the model as it is now (a status check may have changed it), so a status
          // check after a restart of this process starts from it.
          const stateDir = stateDirOf(taskId, callOptions);
          entry.status = response.status;
          if (stateDir) await persistState(entry.model, response.status, stateDir);
          return response;
        }
        await cleanup(taskId, callOptions);
        return response;
      } catch (error) {
        // A status check that failed transiently, or was interrupted, keeps the model: the
        // caller may retry, resume later or cancel (which cleans up).
        const keep =
          statusCheck && (signal.aborted || (RemoteError.isInstance(error) && error.retryable));
        if (!keep) await cleanup(taskId, callOptions);
        throw error;
      } finally {
        entry.controllers.delete(controller);
      }
    },

    async cancel(request, callOptions) {
      const taskId = validateId(request.status?.taskId, "status.taskId");
      const existing = live.get(taskId);
      for (const controller of existing?.controllers ?? []) {
        controller.abort(new CancelledError("[runtime] Training cancelled"));
      }
      try {
        if (service.cancelTraining && request.status && !isFinalTaskState(request.status.state)) {
          const { entry } = await modelFor(taskId, callOptions);
          const signal = callOptions.signal ?? new AbortController().signal;
          await service.cancelTraining(
            request,
            entry.model,
            contextFor(request, taskId, signal, callOptions, [], handleFor(request)),
          );
        }
      } finally {
        await cleanup(taskId, callOptions);
      }
      const at = now().toISOString();
      return {
        status: { ...request.status, taskId, state: "cancelled", updatedAt: at, finishedAt: at },
      };
    },
  };
}

/**
 * The store, recording the saves made through it (a plugin saving its model itself). A save to
 * the task's own handle carries the task id in its metadata, as the runtime's saves do, so a
 * repeated train call (after a crash) finds it and answers it instead of training again.
 */
function recordingStore(
  store: CheckpointStore,
  saves: Array<{
    handle: string;
    ref: { digest: string; archivePath: string };
    defaultMoved: boolean;
  }>,
  task: { handle: string; taskId: string | undefined },
): CheckpointStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "save") return Reflect.get(target, prop, receiver);
      return async (options: Parameters<CheckpointStore["save"]>[0]) => {
        const stamped =
          task.taskId !== undefined && options.handle === task.handle
            ? { ...options, metadata: { ...options.metadata, trainingTaskId: task.taskId } }
            : options;
        const result = await target.save(stamped);
        saves.push({
          handle: result.ref.handle,
          ref: { digest: result.ref.digest, archivePath: result.ref.archivePath },
          defaultMoved: result.defaultRef !== undefined,
        });
        return result;
      };
    },
  });
}

/** fsyncs every file and folder under `root` (a small state folder), so a rename publishes data. */
async function fsyncTree(root: string): Promise<void> {
  const paths = [root];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() || entry.isDirectory()) paths.push(join(entry.parentPath, entry.name));
  }
  for (const path of paths) {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
