import type { PluginClient } from "../../client/plugin-client.js";
import type { TrainResponse } from "../../training/create-training-coordinator.js";
import type { TrainRequest } from "../../training/train-request.js";

/**
 * A plugin client whose train calls answer (or throw) the scripted results in turn, each
 * request pushed to `calls`; `parameters` answers getTrainingParameters, `onCancel` sees
 * every cancelTraining.
 */
export function scriptedClient(
  script: Array<TrainResponse | Error>,
  options: {
    calls: TrainRequest[];
    parameters?: PluginClient["getTrainingParameters"];
    onCancel?: () => void;
  },
): PluginClient {
  return {
    kind: "http",
    name: "fake",
    registerInstance: async (i) => i,
    run: async () => undefined,
    getTrainingParameters: options.parameters ?? (async () => ({})),
    async train(request) {
      options.calls.push(request);
      const next = script.shift();
      if (!next) throw new Error("no more answers");
      if (next instanceof Error) throw next;
      return next;
    },
    async cancelTraining() {
      options.onCancel?.();
      return { status: { state: "cancelled" } };
    },
  };
}
