import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type InvocableResponse,
  type JsonObject,
  type PluginRequest,
  parseWith,
  RemoteError,
  TrainableModel,
  type TrainContext,
  TrainingError,
  type TrainPluginInput,
  type TrainPluginOutput,
  ValidationError,
} from "@trainable/core";
import { z } from "zod";
import { BUILT_IN_EXAMPLES } from "./built-in-examples.js";
import {
  DEFAULT_SERVICE_URL,
  type ExternalTrainerConfig,
  ExternalTrainingInput,
  type TrainingExample,
} from "./external-config.js";
import { type RemoteJob, ServiceClient } from "./service-client.js";

/** The one file of an external model's checkpoint folder: where the model lives. */
export const EXTERNAL_MODEL_FILE = "external-model.json";

const ExternalModelFile = z.object({
  format: z.literal("external-trainer/remote-model"),
  version: z.literal(1),
  serviceUrl: z.url(),
  jobId: z.string().min(1).optional(),
  modelId: z.string().min(1).optional(),
  labels: z.tuple([z.string(), z.string()]).optional(),
});

/** Epochs a job runs when the request does not say. */
export const DEFAULT_EPOCHS = 10;

/** One prediction: both labels with their probabilities, most likely first. */
export type ExternalPrediction = { label: string; score: number }[];

/**
 * A third-party model: training and inference happen in an external service with its own
 * HTTP API; this class only drives it. `train` submits a job and answers `running` with the
 * job id in `remoteStatusInput`; `trainStatus` polls the job; the checkpoint folder holds
 * just `{ serviceUrl, jobId, modelId, labels }`, and `loadFromFolder` reconnects to the service.
 */
export class ExternalModel extends TrainableModel<ExternalTrainerConfig> {
  serviceUrl?: string;
  jobId?: string;
  modelId?: string;
  /** The two labels, sorted; the service's score is the probability of `labels[1]`. */
  labels?: [string, string];

  /** A client of this model's service (the saved address, else the instance config's). */
  client(): ServiceClient {
    return new ServiceClient(this.serviceUrl ?? this.config?.serviceUrl ?? DEFAULT_SERVICE_URL, {
      timeoutMs: this.config?.requestTimeoutMs,
    });
  }

  async train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const input = parseWith(
      ExternalTrainingInput,
      request.data ?? {},
      "external-trainer training input",
      "external-trainer",
    );
    const examples = input.trainingParams?.examples ?? BUILT_IN_EXAMPLES;
    const labels = [...new Set(examples.map((e) => e.label))].sort();
    if (labels.length !== 2) {
      throw ValidationError.forField(
        "external-trainer",
        "trainingParams.examples",
        `needs exactly two distinct labels, got ${labels.length} (${labels.slice(0, 5).join(", ")})`,
      );
    }
    this.serviceUrl = this.config?.serviceUrl ?? DEFAULT_SERVICE_URL;
    this.labels = [labels[0]!, labels[1]!];
    const job = await this.client().submitJob(
      {
        examples,
        epochs: input.trainingEpochs || DEFAULT_EPOCHS,
        ...(input.trainingParams?.learningRate !== undefined
          ? { learningRate: input.trainingParams.learningRate }
          : {}),
        // The training's task id is stable across retries: a train call repeated after a
        // crash or a dropped answer gets the job the first one started, never a second.
        ...(request.status?.taskId ? { clientToken: request.status.taskId } : {}),
      },
      context.signal,
    );
    this.jobId = job.jobId;
    context.postUpdate({ trainingProgress: progressOf(job) });
    return { status: this.#running(job) };
  }

  override async trainStatus(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    // The folder kept between calls has the job; the last status has it too (stateless way).
    const remote = request.status?.remoteStatusInput ?? {};
    this.jobId ??= typeof remote.jobId === "string" ? remote.jobId : undefined;
    this.serviceUrl ??= typeof remote.serviceUrl === "string" ? remote.serviceUrl : undefined;
    this.labels ??= Array.isArray(remote.labels) ? (remote.labels as [string, string]) : undefined;
    const jobId = this.jobId;
    if (!jobId) {
      throw new TrainingError(
        "[external-trainer] A status check without a job id: the last status has no remoteStatusInput.jobId",
      );
    }
    const job = await this.client().getJob(jobId, context.signal);
    context.postUpdate({ trainingProgress: progressOf(job) });
    switch (job.state) {
      case "queued":
      case "running":
        return { status: this.#running(job) };
      case "succeeded": {
        if (!job.modelId) {
          throw new TrainingError(`[external-trainer] Job ${jobId} succeeded without a modelId`);
        }
        this.modelId = job.modelId;
        return {
          data: { trainingResults: await this.#results(job, request, context.signal) },
          status: { state: "succeeded", statusMessage: `job ${jobId} succeeded: ${job.modelId}` },
        };
      }
      case "failed":
        return {
          status: {
            state: "failed",
            statusCode: "TRAINING",
            statusMessage: `[external-trainer] Job ${jobId} failed on the service: ${job.error ?? "no reason given"}`,
          },
        };
      case "cancelled":
        return {
          status: {
            state: "cancelled",
            statusCode: "CANCELLED",
            statusMessage: `[external-trainer] Job ${jobId} was cancelled on the service`,
          },
        };
    }
  }

  /** Cancels this model's job on the service (used when a training is cancelled or times out). */
  async cancel(jobId = this.jobId, signal?: AbortSignal): Promise<RemoteJob | undefined> {
    if (!jobId) return undefined;
    return this.client().cancelJob(jobId, signal);
  }

  /** Asks the service's trained model for the labels of `texts`. */
  async predict(texts: readonly string[], signal?: AbortSignal): Promise<ExternalPrediction[]> {
    const { modelId, labels } = this;
    if (!modelId || !labels) {
      throw new TrainingError(
        "[external-trainer] The model is not trained: train or load it first",
      );
    }
    const predictions = await this.client().predict(modelId, texts, signal);
    return predictions.map(({ score }) => {
      const second = { label: labels[1], score };
      const first = { label: labels[0], score: 1 - score };
      return score >= 0.5 ? [second, first] : [first, second];
    });
  }

  async saveToFolder(dir: string): Promise<void> {
    const file = {
      format: "external-trainer/remote-model",
      version: 1,
      serviceUrl: this.serviceUrl ?? this.config?.serviceUrl ?? DEFAULT_SERVICE_URL,
      ...(this.jobId ? { jobId: this.jobId } : {}),
      ...(this.modelId ? { modelId: this.modelId } : {}),
      ...(this.labels ? { labels: this.labels } : {}),
    };
    await writeFile(join(dir, EXTERNAL_MODEL_FILE), `${JSON.stringify(file, null, 2)}\n`);
  }

  /** Reads the folder and reconnects: the service must answer `GET /health`. */
  async loadFromFolder(dir: string): Promise<void> {
    const text = await readFile(join(dir, EXTERNAL_MODEL_FILE), "utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new TrainingError(`[external-trainer] ${EXTERNAL_MODEL_FILE} is not JSON`, {
        cause: error,
      });
    }
    const file = parseWith(ExternalModelFile, json, EXTERNAL_MODEL_FILE, "external-trainer");
    this.serviceUrl = file.serviceUrl;
    this.jobId = file.jobId;
    this.modelId = file.modelId;
    this.labels = file.labels;
    try {
      await this.client().health();
    } catch (error) {
      throw new RemoteError(
        `[external-trainer] Cannot reconnect to the training service at ${file.serviceUrl} (recorded in this checkpoint${file.modelId ? ` for model ${file.modelId}` : ""}): ${(error as Error).message}`,
        { retryable: true, cause: error },
      );
    }
  }

  #running(job: RemoteJob) {
    return {
      state: "running" as const,
      statusMessage: `job ${job.jobId} ${job.state}: epoch ${job.epoch}/${job.epochs}${job.loss === undefined ? "" : `, loss ${job.loss.toFixed(4)}`}`,
      remoteStatusInput: {
        jobId: job.jobId,
        serviceUrl: this.serviceUrl ?? DEFAULT_SERVICE_URL,
        ...(this.labels ? { labels: this.labels } : {}),
      },
      retryAfterMs: this.config?.pollMs ?? 500,
    };
  }

  /** Final metrics: the job's loss, and the accuracy of the trained model on its training set. */
  async #results(
    job: RemoteJob,
    request: PluginRequest<TrainPluginInput>,
    signal: AbortSignal,
  ): Promise<JsonObject> {
    const parsed = ExternalTrainingInput.safeParse(request.data ?? {});
    const examples: readonly TrainingExample[] =
      (parsed.success ? parsed.data.trainingParams?.examples : undefined) ?? BUILT_IN_EXAMPLES;
    const predictions = await this.predict(
      examples.map((e) => e.text),
      signal,
    );
    const correct = predictions.filter((p, i) => p[0]!.label === examples[i]!.label).length;
    return {
      jobId: job.jobId,
      modelId: job.modelId!,
      epochs: job.epochs,
      finalLoss: job.loss ?? null,
      trainingAccuracy: correct / examples.length,
      examples: examples.length,
    };
  }
}

function progressOf(job: RemoteJob): JsonObject {
  return {
    state: job.state,
    epoch: job.epoch,
    of: job.epochs,
    fraction: job.epochs > 0 ? job.epoch / job.epochs : 0,
    ...(job.loss !== undefined ? { loss: job.loss } : {}),
  };
}
