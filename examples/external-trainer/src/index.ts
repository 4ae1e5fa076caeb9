export { BUILT_IN_EXAMPLES } from "./built-in-examples.js";
export { ExternalClassifier } from "./external-classifier.js";
export {
  DEFAULT_SERVICE_URL,
  ExternalTrainerConfig,
  ExternalTrainingInput,
  TrainingExample,
} from "./external-config.js";
export {
  DEFAULT_EPOCHS,
  EXTERNAL_MODEL_FILE,
  ExternalModel,
  type ExternalPrediction,
} from "./external-model.js";
export { RemoteJob, ServiceClient, type ServiceClientOptions } from "./service-client.js";
