import type { PluginRequest, TrainContext, TrainPluginInput } from "@trainable/core";
import {
  type ClassifierInput,
  type ClassifierOutput,
  type PluginRunContext,
  TrainableClassifierPluginService,
} from "@trainable/plugin-runtime";
import { ExternalTrainerConfig } from "./external-config.js";
import { ExternalModel } from "./external-model.js";

/**
 * The external classifier plugin (`POST /run`, alias `POST /classify`): each text goes to the
 * external service's trained model; the answer lists both labels with probabilities.
 */
export class ExternalClassifier extends TrainableClassifierPluginService<
  ExternalTrainerConfig,
  ExternalModel
> {
  readonly configSchema = ExternalTrainerConfig;
  readonly modelClass = ExternalModel;

  async runWithModel(
    request: PluginRequest<ClassifierInput>,
    model: ExternalModel,
    context: PluginRunContext<ExternalTrainerConfig>,
  ): Promise<ClassifierOutput> {
    const { texts, topK } = request.data!;
    const predictions = await model.predict(texts, context.signal);
    return {
      results: predictions.map((labels) => ({
        labels: topK === undefined ? labels : labels.slice(0, topK),
      })),
    };
  }

  /** Stops the service's job when the training is cancelled or times out. */
  override async cancelTraining(
    request: PluginRequest<TrainPluginInput>,
    model: ExternalModel,
    context: TrainContext,
  ): Promise<void> {
    const remote = request.status?.remoteStatusInput;
    const jobId = model.jobId ?? (typeof remote?.jobId === "string" ? remote.jobId : undefined);
    if (!model.serviceUrl && typeof remote?.serviceUrl === "string") {
      model.serviceUrl = remote.serviceUrl;
    }
    await model.cancel(jobId, context.signal);
  }
}
