import { isFinalTaskState } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { openEngine } from "../engine.js";
import { openQueueEngine, QUEUE_ENV, type QueueSpec, resolveQueue } from "../queue.js";

async function resumeLocal(c: CliContext, pluginSpec: string) {
  const { engine } = await openEngine(c, pluginSpec);
  return { engine, result: await engine.resume() };
}

/**
 * On a queue, workers recover a dead worker's trainings (stalled jobs) on their own: what is
 * left to do is to wait for the plugin's unfinished trainings.
 */
async function waitOnQueue(c: CliContext, pluginSpec: string, queue: QueueSpec) {
  const { engine, plugin } = await openQueueEngine(c, pluginSpec, queue);
  const unfinished = (await engine.listTasks()).filter(
    (t) => t.plugin === plugin.name && !isFinalTaskState(t.state),
  );
  const result = {
    resumed: unfinished.map((t) => t.taskId),
    interrupted: [] as string[],
    skipped: [] as Array<{ taskId: string; reason: string }>,
  };
  return { engine, result };
}

/** `trainable resume`: picks up trainings interrupted by a crash or Ctrl-C and waits for them. */
export function registerResume(program: Command, ctx: () => CliContext): void {
  program
    .command("resume")
    .description(
      "resume the unfinished trainings of a plugin (e.g. after a crash) and wait for them to finish",
    )
    .requiredOption(
      "--plugin <module>",
      "plugin module: a path or package whose default export is the plugin service",
    )
    .option(
      "--queue <url>",
      `a distributed queue (redis://HOST:PORT/DB[?queue=NAME]; env ${QUEUE_ENV}): its workers resume interrupted trainings by themselves; this waits for the plugin's unfinished ones`,
    )
    .action(async (o: { plugin: string; queue?: string }) => {
      const c = ctx();
      const queue = resolveQueue(o.queue, c.io.env[QUEUE_ENV]);
      const { engine, result } = queue
        ? await waitOnQueue(c, o.plugin, queue)
        : await resumeLocal(c, o.plugin);
      for (const taskId of result.resumed) c.progress.message(`resuming task ${taskId}…`);
      const stop = engine.on("task", (event) => {
        if (event.type === "update" && event.update) c.progress.training(event.update);
      });
      // A cancel asked from the dashboard reaches the engine driving the task (this one),
      // which honours it by itself.
      const tasks = await Promise.all(result.resumed.map((id) => engine.wait(id))).finally(stop);
      c.print({ ...result, tasks }, () =>
        [
          tasks.length === 0 ? "nothing to resume" : "",
          ...tasks.map(
            (t) =>
              `task ${t.taskId} (${t.instanceId}): ${t.state}${t.statusMessage ? ` — ${t.statusMessage}` : ""}`,
          ),
          ...result.interrupted.map(
            (id) => `task ${id}: interrupted during train(), marked failed`,
          ),
          ...result.skipped.map((s) => `task ${s.taskId}: skipped (${s.reason})`),
        ]
          .filter(Boolean)
          .join("\n"),
      );
    });
}
