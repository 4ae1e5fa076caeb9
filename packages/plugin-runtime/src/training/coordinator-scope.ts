import type { CheckpointStore, ModelCache } from "@trainable/core";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import type { LiveTrainings } from "./live-trainings.js";

/** What the parts of a training coordinator share. */
export interface CoordinatorScope {
  service: AnyTrainablePluginService;
  store: CheckpointStore;
  cache: ModelCache | false;
  now: () => Date;
  live: LiveTrainings;
}
