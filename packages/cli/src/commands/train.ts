import { type Id, TrainingError, TrainPluginInput, ValidationError } from "@trainable/core";
import type { TrainingEngine, TrainingRun, TrainingTask } from "@trainable/plugin-runtime";
import type { Command } from "commander";
import { type CliContext, parseIntFlag, parseNumberFlag } from "../context.js";
import { openEngine } from "../engine.js";
import { idFlag } from "../id-flag.js";
import { asFlagError, parseDataFlag, parseJsonOrFile, parseParams } from "../parse-flags.js";
import { openQueueEngine, QUEUE_ENV, resolveQueue } from "../queue.js";

interface TrainFlags {
  plugin: string;
  instance: Id;
  config?: string;
  data?: string;
  epochs?: string;
  holdout?: string;
  seed?: string;
  param?: string[];
  handle?: Id;
  default: boolean;
  timeout?: string;
  queue?: string;
}

/** The flag each training input field comes from, for error messages. */
const FLAG_OF_FIELD: Record<string, string> = {
  trainingEpochs: "--epochs",
  testingHoldoutPercent: "--holdout",
  testSplitSeed: "--seed",
  trainingParams: "--param",
  trainingDataUrl: "--data",
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `trainable train`: the full lifecycle through the local engine. */
export function registerTrain(program: Command, ctx: () => CliContext): void {
  program
    .command("train")
    .description(
      "train a plugin instance (getTrainingParameters → train → status checks → save) and move default",
    )
    .requiredOption(
      "--plugin <module>",
      "plugin module: a path or package whose default export is the plugin service",
    )
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .option("--config <json|file>", "plugin instance config (inline JSON or a JSON file)")
    .option("--data <path|url>", "training data (trainingDataUrl)")
    .option("--epochs <n>", "training epochs")
    .option("--holdout <fraction>", "fraction of the data held out for testing (0..1)")
    .option("--seed <n>", "seed of the train/test split")
    .option(
      "--param <key=value>",
      "a training parameter (repeatable; JSON values allowed)",
      collect,
    )
    .option(
      "--handle <name>",
      "checkpoint handle to save to (default: a generated v<date>-<time> handle)",
      idFlag("--handle"),
    )
    .option("--no-default", "do not move the default handle to the new checkpoint")
    .option("--timeout <ms>", "overall training timeout in milliseconds")
    .option(
      "--queue <url>",
      `train on a distributed queue's workers (redis://HOST:PORT/DB[?queue=NAME]; env ${QUEUE_ENV}) instead of in this process`,
    )
    .action(async (o: TrainFlags) => {
      const c = ctx();
      const queue = resolveQueue(o.queue, c.io.env[QUEUE_ENV]);
      const instanceId = o.instance;
      const handle = o.handle;
      const input = {
        ...(o.epochs !== undefined ? { trainingEpochs: parseIntFlag(o.epochs, "--epochs") } : {}),
        ...(o.holdout !== undefined
          ? { testingHoldoutPercent: parseNumberFlag(o.holdout, "--holdout", { min: 0, max: 1 }) }
          : {}),
        ...(o.seed !== undefined
          ? { testSplitSeed: parseIntFlag(o.seed, "--seed", Number.MIN_SAFE_INTEGER) }
          : {}),
        ...(o.data !== undefined ? { trainingDataUrl: parseDataFlag(o.data, c.io.cwd) } : {}),
        ...(o.param ? { trainingParams: parseParams(o.param) } : {}),
      };
      // The engine checks the input too, but its error would name the field, not the flag.
      const checked = TrainPluginInput.safeParse({ pluginInstance: instanceId, ...input });
      if (!checked.success) {
        const issue = checked.error.issues[0];
        const field = String(issue?.path[0] ?? "");
        throw ValidationError.forField(
          "cli",
          FLAG_OF_FIELD[field] ?? field,
          issue?.message ?? "invalid",
        );
      }
      const timeoutMs =
        o.timeout === undefined ? undefined : parseIntFlag(o.timeout, "--timeout", 1);
      const config =
        o.config === undefined ? undefined : parseJsonOrFile(o.config, "--config", c.io.cwd);

      const { engine, plugin } = queue
        ? await openQueueEngine(c, o.plugin, queue)
        : await openEngine(c, o.plugin);
      const existing = await engine.getInstance(instanceId);
      await engine
        .createInstance({
          id: instanceId,
          plugin: plugin.name,
          config: config ?? existing?.config ?? {},
          replace: true,
        })
        .catch((error: unknown) => {
          throw config === undefined ? error : asFlagError(error, "--config");
        });
      c.progress.message(`training ${instanceId} (${plugin.name})…`);
      const run = await engine.startTraining(instanceId, input, {
        ...(handle ? { handle } : {}),
        setAsDefault: o.default,
        ...(timeoutMs ? { timeoutMs } : {}),
      });
      // On a queue the training runs elsewhere: name the task, so it can be cancelled from
      // anywhere (`trainable cancel <task-id> --queue …`).
      if (queue) c.progress.message(`training ${instanceId} on the queue as task ${run.taskId}…`);
      const task = await followTraining(c, { engine, run });
      if (task.state !== "succeeded") {
        throw new TrainingError(
          `[cli] Training of "${instanceId}" ${task.state}: ${task.statusMessage ?? "no message"}`,
        );
      }
      const results = task.output?.trainingResults ?? {};
      c.print(task, () =>
        [
          `trained ${instanceId}: ${task.state} (task ${task.taskId})`,
          `checkpoint: ${task.checkpoint?.handle ?? "?"}${o.default ? " (default)" : ""} → ${task.output?.archivePath ?? "?"}`,
          ...Object.entries(results)
            .filter(([, v]) => typeof v === "number")
            .map(([k, v]) => `  ${k}: ${Number((v as number).toFixed(4))}`),
        ].join("\n"),
      );
    });
}

/**
 * Waits for a training to end, showing its progress; Ctrl-C cancels it. A cancel request
 * from the dashboard is honoured by the local engine driving it, in this process.
 */
async function followTraining(
  c: CliContext,
  { engine, run }: { engine: TrainingEngine; run: TrainingRun },
): Promise<TrainingTask> {
  const stopWatching = engine.on("task", (event) => {
    if (event.taskId !== run.taskId) return;
    if (event.type === "update" && event.update) c.progress.training(event.update);
    if (event.type === "status")
      c.progress.training({
        statusMessage: event.task.statusMessage ?? "running",
        output: { trainingProgress: { checks: event.task.statusChecks } },
      });
  });
  const onSignal = () => {
    c.progress.message("cancelling…");
    void engine.cancel(run.taskId);
  };
  process.once("SIGINT", onSignal);
  try {
    return await run.done;
  } finally {
    process.removeListener("SIGINT", onSignal);
    stopWatching();
  }
}
