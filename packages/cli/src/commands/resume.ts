import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { watchCancelRequest } from "../dashboard/cancel-request.js";
import { openEngine } from "../engine.js";

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
    .action(async (o: { plugin: string }) => {
      const c = ctx();
      const { engine } = await openEngine(c, o.plugin);
      const result = await engine.resume();
      for (const taskId of result.resumed) c.progress.message(`resuming task ${taskId}…`);
      const stop = engine.on("task", (event) => {
        if (event.type === "update" && event.update) c.progress.training(event.update);
      });
      // A cancel asked from the dashboard reaches the process driving the task: this one.
      const unwatch = result.resumed.map((taskId) =>
        watchCancelRequest({
          dataDir: c.dataDir,
          taskId,
          onRequest: () => void engine.cancel(taskId).catch(() => {}),
        }),
      );
      const tasks = await Promise.all(result.resumed.map((id) => engine.wait(id))).finally(() => {
        stop();
        for (const off of unwatch) off();
      });
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
