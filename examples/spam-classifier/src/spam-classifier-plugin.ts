import type { TrainingParameterPluginInput, TrainingParameterPluginOutput } from "@trainable/core";
import { type PluginRequest, trainingParametersFromInput, ValidationError } from "@trainable/core";
import {
  type ClassifierInput,
  type ClassifierOutput,
  type PluginRunContext,
  TrainableClassifierPluginService,
} from "@trainable/plugin-runtime";
import { SPAM_TRAINING_DEFAULTS, SpamClassifierConfig } from "./spam-config.js";
import { SpamModel } from "./spam-model.js";

/**
 * The spam classifier plugin (`POST /run`, alias `POST /classify`): for each text, the labels
 * `spam` and `ham` with their probabilities, most likely first.
 */
export class SpamClassifier extends TrainableClassifierPluginService<
  SpamClassifierConfig,
  SpamModel
> {
  readonly configSchema = SpamClassifierConfig;
  readonly modelClass = SpamModel;

  /** Fills in the defaults, so the task records the split and epochs actually used. */
  override async getTrainingParameters(
    request: PluginRequest<TrainingParameterPluginInput>,
  ): Promise<TrainingParameterPluginOutput> {
    const input = request.data;
    if (!input) throw ValidationError.forField("spam-classifier", "data", "is required");
    return {
      ...trainingParametersFromInput(input),
      trainingEpochs: input.trainingEpochs || SPAM_TRAINING_DEFAULTS.trainingEpochs,
      testingHoldoutPercent:
        input.testingHoldoutPercent ?? SPAM_TRAINING_DEFAULTS.testingHoldoutPercent,
      testSplitSeed: input.testSplitSeed ?? SPAM_TRAINING_DEFAULTS.testSplitSeed,
    };
  }

  async runWithModel(
    request: PluginRequest<ClassifierInput>,
    model: SpamModel,
    context: PluginRunContext<SpamClassifierConfig>,
  ): Promise<ClassifierOutput> {
    const { texts, topK } = request.data!;
    // The instance's current threshold wins over the one the cached model was loaded with.
    const threshold = context.instance?.config?.threshold ?? model.config?.threshold;
    return {
      results: texts.map((text) => {
        const { label, spamProbability } = model.predict(text, { threshold });
        const spam = { label: "spam", score: spamProbability };
        const ham = { label: "ham", score: 1 - spamProbability };
        const labels = label === "spam" ? [spam, ham] : [ham, spam];
        return { labels: topK === undefined ? labels : labels.slice(0, topK) };
      }),
    };
  }
}
