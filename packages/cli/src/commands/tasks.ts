import { createModelCache } from "@trainable/cache";
import { type Id, TaskState, ValidationError } from "@trainable/core";
import {
  createLocalEngine,
  type LocalEngine,
  type TrainingEngine,
  type TrainingTask,
} from "@trainable/plugin-runtime";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { awaitRequestedCancel, createLocalTaskSource } from "../dashboard/local-task-source.js";
import { idFlag } from "../id-flag.js";
import { loadPlugin } from "../load-plugin.js";
import { openQueueEngine, QUEUE_ENV, queueOptions, resolveQueue } from "../queue.js";

const queueOption = `the distributed queue (redis://HOST:PORT/DB[?queue=NAME]; env ${QUEUE_ENV}); default: the local engine's --data-dir`;

/**
 * The engine whose tasks a command reads or cancels: the queue's (no plugin needed: workers
 * drive its tasks) or the local one on `--data-dir` (with `--plugin` registered when given).
 */
async function openTasksEngine(
  c: CliContext,
  queueFlag: string | undefined,
  pluginSpec: string | undefined,
): Promise<TrainingEngine> {
  const queue = resolveQueue(queueFlag, c.io.env[QUEUE_ENV]);
  if (queue) {
    if (pluginSpec) return (await openQueueEngine(c, pluginSpec, queue)).engine;
    const { createBullmqEngine } = await import("@trainable/engine-bullmq");
    const engine = await createBullmqEngine({ ...queueOptions(queue), store: await c.store() });
    c.onClose(() => engine.close());
    return engine;
  }
  const store = await c.store();
  const engine = await createLocalEngine({
    store,
    cache: createModelCache({ store }),
    dataDir: c.dataDir,
  });
  if (pluginSpec) {
    const plugin = await loadPlugin(pluginSpec, c.io.cwd);
    engine.registerPlugin(plugin.name, plugin.service);
  }
  c.onClose(() => engine.close());
  return engine;
}

const line = (t: TrainingTask) =>
  [
    t.taskId,
    t.instanceId,
    t.state,
    t.progress ? JSON.stringify(t.progress) : "",
    t.statusMessage ?? "",
  ]
    .filter(Boolean)
    .join("  ");

/** `trainable tasks`: the trainings of the local engine or of a queue, newest first. */
export function registerTasks(program: Command, ctx: () => CliContext): void {
  program
    .command("tasks")
    .description("list trainings, newest first (local engine, or a queue with --queue)")
    .option("--queue <url>", queueOption)
    .option("--instance <id>", "only this plugin instance's", idFlag("--instance"))
    .option("--state <state>", `only in this state (${TaskState.options.join(", ")})`)
    .action(async (o: { queue?: string; instance?: Id; state?: string }) => {
      const c = ctx();
      const instanceId = o.instance;
      let state: TaskState | undefined;
      if (o.state !== undefined) {
        const parsed = TaskState.safeParse(o.state);
        if (!parsed.success) {
          throw ValidationError.forField(
            "cli",
            "--state",
            `must be one of ${TaskState.options.join(", ")}, got "${o.state}"`,
          );
        }
        state = parsed.data;
      }
      const engine = await openTasksEngine(c, o.queue, undefined);
      const tasks = await engine.listTasks({
        ...(instanceId ? { instanceId } : {}),
        ...(state ? { state } : {}),
      });
      c.print(tasks, () => (tasks.length === 0 ? "no tasks" : tasks.map(line).join("\n")));
    });
}

/** `trainable cancel`: cancels a training (its plugin's job too) and prints its final state. */
export function registerCancel(program: Command, ctx: () => CliContext): void {
  program
    .command("cancel")
    .description(
      "cancel a training and stop its plugin's job (local engine: needs --plugin; a training another process drives is stopped by that process on request; with --queue the worker running it stops it)",
    )
    .argument("<task-id>", "the task to cancel", idFlag("<task-id>"))
    .option("--queue <url>", queueOption)
    .option(
      "--plugin <module>",
      "plugin module (local engine: needed to stop the plugin's external job)",
    )
    .action(async (taskId: Id, o: { queue?: string; plugin?: string }) => {
      const c = ctx();
      const queue = resolveQueue(o.queue, c.io.env[QUEUE_ENV]);
      if (!queue && !o.plugin) {
        const problem =
          "is required to cancel a task of the local engine (it stops the plugin's job); with --queue, workers do";
        throw new ValidationError(`[cli] --plugin ${problem}`, {
          issues: [{ path: "--plugin", message: problem }],
        });
      }
      const engine = await openTasksEngine(c, o.queue, o.plugin);
      if (queue) {
        const task = await engine.cancel(taskId);
        c.print(task, () => `task ${task.taskId} (${task.instanceId}): ${task.state}`);
        return;
      }
      // Local: whichever process drives the task (this one, another live one, or none).
      const source = createLocalTaskSource({ dataDir: c.dataDir });
      try {
        const requested = await (engine as LocalEngine).requestCancel(taskId);
        const { task, requested: pending } = await awaitRequestedCancel(source, requested);
        c.print(task, () =>
          pending
            ? `task ${task.taskId} (${task.instanceId}): cancel requested; ${task.state} until the process driving it stops it`
            : `task ${task.taskId} (${task.instanceId}): ${task.state}`,
        );
      } finally {
        await source.close();
      }
    });
}
