import { z } from "zod";

/** The default address of the external training service (`pnpm service --port 7070`). */
export const DEFAULT_SERVICE_URL = "http://127.0.0.1:7070";

/** An external-trainer plugin instance's config, checked when the instance is created. */
export const ExternalTrainerConfig = z
  .object({
    /** Base URL of the external training service. */
    serviceUrl: z
      .url({ protocol: /^https?$/, error: "must be an http: or https: URL" })
      .default(DEFAULT_SERVICE_URL),
    /** Timeout of each request to the service. Default 10 s. */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** How long the engine waits between status checks of a job. Default 500 ms. */
    pollMs: z.number().int().min(10).max(3_600_000).default(500),
  })
  // An instance created without a config gets the defaults.
  .prefault({});
export type ExternalTrainerConfig = z.infer<typeof ExternalTrainerConfig>;

/** One labelled training example the service learns from. */
export const TrainingExample = z.object({
  text: z.string().min(1).max(100_000),
  label: z.string().min(1).max(64),
});
export type TrainingExample = z.infer<typeof TrainingExample>;

const numeric = () =>
  z.preprocess(
    (value) => (typeof value === "string" && value.trim() !== "" ? Number(value) : value),
    z.number(),
  );

/** What `train` reads from a `TrainPluginInput`. */
export const ExternalTrainingInput = z.object({
  /** SGD epochs the service runs (one per service tick). Default 10. */
  trainingEpochs: z.number().int().min(0).max(100).optional(),
  trainingParams: z
    .object({
      /** The labelled data (exactly two labels). Default: a built-in sentiment set. */
      examples: z.array(TrainingExample).min(2).max(100_000).optional(),
      /** SGD learning rate. Default 0.1. */
      learningRate: numeric().pipe(z.number().positive().max(10)).optional(),
    })
    .optional(),
});
export type ExternalTrainingInput = z.infer<typeof ExternalTrainingInput>;
