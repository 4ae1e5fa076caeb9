import { errorBody } from "@trainable/plugin-runtime";
import type { CheckpointStoreImpl } from "@trainable/storage";
import type { InstanceRow, InstancesAnswer } from "./api-types.js";
import { defaultOf, summarize } from "./checkpoint-api.js";
import type { TaskSource } from "./task-source.js";

/** How many instances' `default` are read at once. */
const CONCURRENT_READS = 8;

async function mapBounded<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_READS, items.length) }, worker));
  return out;
}

/**
 * `GET api/instances`: the union of the engine's instances (with their config, unless a
 * read-only `tasks` hides it), those known from their trainings, and those with checkpoints
 * in the store (pushed or imported: only their id and `default`), sorted by id. A store that
 * cannot list its instances leaves the others listed and says why in `storeError`; one
 * instance's store trouble (a damaged ref) is shown on its row. `shown` is how the dashboard
 * shows an error message (a read-only one scrubs its paths).
 */
export async function instanceRows(
  store: CheckpointStoreImpl,
  tasks: TaskSource,
  shown: (text: string) => string,
): Promise<InstancesAnswer> {
  const message = (error: unknown) => shown(errorBody(error).body.error.message);
  const [instances, all, stored] = await Promise.all([
    tasks.listInstances(),
    tasks.listTasks(),
    store.listInstances().then(
      (ids) => ({ ids }),
      (error: unknown) => ({ ids: [] as string[], error: message(error) }),
    ),
  ]);
  const byId = new Map<string, { id: string; plugin?: string }>(
    instances.map((i) => [i.id, { ...i }]),
  );
  // Instances known only from their trainings (e.g. on a queue whose hash was trimmed).
  for (const task of all) {
    if (!byId.has(task.instanceId)) {
      byId.set(task.instanceId, { id: task.instanceId, plugin: task.plugin });
    }
  }
  // Instances known only from their checkpoints (`checkpoints push`, an import).
  for (const id of stored.ids) if (!byId.has(id)) byId.set(id, { id });
  const rows = await mapBounded([...byId.values()], async (instance): Promise<InstanceRow> => {
    const found = await defaultOf(store, instance.id).then(
      (ref) => ({ ref }),
      (error: unknown) => ({ ref: null, error: message(error) }),
    );
    const mine = all.filter((t) => t.instanceId === instance.id);
    return {
      ...instance,
      default: found.ref ? summarize(found.ref, found.ref.digest) : null,
      ...("error" in found ? { defaultError: found.error } : {}),
      trainings: mine.length,
      running: mine.filter((t) => t.state === "running" || t.state === "waiting").length,
    };
  });
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { instances: rows, ...("error" in stored ? { storeError: stored.error } : {}) };
}
