import { join } from "node:path";
import { ValidationError } from "@trainable/core";
import type { Command } from "commander";
import { type CliContext, parseIntFlag } from "../context.js";
import { loadPlugin } from "../load-plugin.js";
import { QUEUE_ENV, queueOptions, resolveQueue } from "../queue.js";

/** `trainable worker`: drives the trainings of a distributed queue (BullMQ on Redis). */
export function registerWorker(program: Command, ctx: () => CliContext): void {
  program
    .command("worker")
    .description(
      "drive trainings from a distributed queue (Redis): run as many as you like, on any machine sharing --remote",
    )
    .option("--queue <url>", `the queue: redis://HOST:PORT/DB[?queue=NAME] (env ${QUEUE_ENV})`)
    .requiredOption(
      "--plugin <module>",
      "plugin module: a path or package whose default export is the plugin service",
    )
    .option("--concurrency <n>", "trainings driven at once", "1")
    .action(async (o: { queue?: string; plugin: string; concurrency: string }) => {
      const c = ctx();
      const queue = resolveQueue(o.queue, c.io.env[QUEUE_ENV]);
      if (!queue) {
        const problem = `is required: the queue to take trainings from (or set ${QUEUE_ENV})`;
        throw new ValidationError(`[cli] --queue ${problem}`, {
          issues: [{ path: "--queue", message: problem }],
        });
      }
      const concurrency = parseIntFlag(o.concurrency, "--concurrency", 1);
      const plugin = await loadPlugin(o.plugin, c.io.cwd);
      const { createBullmqWorker } = await import("@trainable/engine-bullmq");
      const worker = await createBullmqWorker({
        ...queueOptions(queue),
        store: await c.store(),
        plugins: { [plugin.name]: plugin.service },
        dataDir: join(c.dataDir, "worker"),
        concurrency,
        logger: {
          warn: (message) => c.io.stderr.write(`trainable: warning: ${message}\n`),
          error: (message, error) =>
            c.io.stderr.write(
              `trainable: error: ${message}${error instanceof Error ? `: ${error.message}` : ""}\n`,
            ),
        },
      });
      // One line per training taken and ended, for the operator.
      worker.worker.on("active", (job) => {
        c.io.stderr.write(`trainable: task ${job.id}: started (attempt ${job.attemptsStarted})\n`);
      });
      worker.worker.on("completed", (job, task) => {
        c.io.stderr.write(`trainable: task ${job.id}: ${task?.state ?? "done"}\n`);
      });
      const where = `${new URL(queue.connection).host}, queue ${queue.queueName ?? "trainings"}`;
      c.print(
        { worker: true, plugin: plugin.name, concurrency, queue: queue.queueName ?? "trainings" },
        () => `worker for ${plugin.name} on ${where} (concurrency ${concurrency}; Ctrl-C to stop)`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.removeListener("SIGINT", stop);
          process.removeListener("SIGTERM", stop);
          c.io.stderr.write("trainable: stopping (running trainings go back to the queue)…\n");
          void worker.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
