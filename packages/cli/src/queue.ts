import { ValidationError } from "@trainable/core";
import type { TrainingEngine } from "@trainable/plugin-runtime";
import type { CliContext } from "./context.js";
import type { LoadedPlugin } from "./load-plugin.js";
import { loadPlugin } from "./load-plugin.js";

/** Where `--queue` comes from when the flag is not given. */
export const QUEUE_ENV = "TRAINABLE_QUEUE";

/** A distributed queue: `redis://HOST:PORT/DB[?queue=NAME&prefix=PREFIX&connectTimeoutMs=MS]`. */
export interface QueueSpec {
  /** The Redis URL without our query parameters. */
  connection: string;
  queueName?: string;
  prefix?: string;
  /** How long to wait for Redis before failing (`?connectTimeoutMs=`; the engine's default). */
  connectTimeoutMs?: number;
  /** Where it came from, for messages. */
  source: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The queue of `--queue` (else `TRAINABLE_QUEUE`), or undefined for the local engine. Checked
 * before anything is opened; the message names the flag or the variable, never a password.
 */
export function resolveQueue(
  flag: string | undefined,
  env: string | undefined,
): QueueSpec | undefined {
  const raw = flag ?? (env === "" ? undefined : env);
  if (raw === undefined) return undefined;
  const source = flag !== undefined ? "--queue" : QUEUE_ENV;
  const fail = (problem: string): never => {
    throw new ValidationError(`[cli] Invalid ${source}: ${problem}`, {
      issues: [{ path: source, message: problem }],
    });
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("expected a URL like redis://HOST:PORT/DB");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    fail(`expected a redis:// or rediss:// URL, got a ${url.protocol} URL`);
  }
  if (!/^\/?\d*$/.test(url.pathname)) fail("the path must be a database number, as in /0");
  const spec: QueueSpec = { connection: "", source };
  for (const [key, value] of url.searchParams) {
    if (key === "connectTimeoutMs") {
      const ms = Number(value);
      if (!/^\d+$/.test(value) || ms <= 0 || ms > 2 ** 31 - 1) {
        fail("connectTimeoutMs must be a positive whole number of milliseconds");
      }
      spec.connectTimeoutMs = ms;
      continue;
    }
    if (key !== "queue" && key !== "prefix") {
      fail(`unknown parameter "${key}" (known: queue, prefix, connectTimeoutMs)`);
    }
    if (!NAME.test(value)) fail(`${key} must be letters, digits, _ . - (at most 64)`);
    if (key === "queue") spec.queueName = value;
    else spec.prefix = value;
  }
  url.search = "";
  spec.connection = url.href;
  return spec;
}

/** The names of a queue for `createBullmqEngine` / `createBullmqWorker`. */
export function queueOptions(queue: QueueSpec) {
  return {
    connection: queue.connection,
    ...(queue.queueName ? { queueName: queue.queueName } : {}),
    ...(queue.prefix ? { prefix: queue.prefix } : {}),
    ...(queue.connectTimeoutMs ? { connectTimeoutMs: queue.connectTimeoutMs } : {}),
  };
}

/** The distributed engine (loaded on first use: users of the local engine never load BullMQ). */
export async function openQueueEngine(
  ctx: CliContext,
  pluginSpec: string,
  queue: QueueSpec,
): Promise<{ engine: TrainingEngine; plugin: LoadedPlugin }> {
  const plugin = await loadPlugin(pluginSpec, ctx.io.cwd);
  const { createBullmqEngine } = await import("@trainable/engine-bullmq");
  const engine = await createBullmqEngine({ ...queueOptions(queue), store: await ctx.store() });
  engine.registerPlugin(plugin.name, plugin.service);
  ctx.onClose(() => engine.close());
  return { engine, plugin };
}
