import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.TrainingError";
const symbol = Symbol.for(marker);

/** Training failed, or a training operation is not supported by this model. */
export class TrainingError extends TrainableError {
  readonly [symbol] = true;

  constructor(message: string, options: TrainableErrorOptions = {}) {
    super("TRAINING", message, options);
    this.name = "TrainingError";
  }

  static override isInstance(error: unknown): error is TrainingError {
    return TrainableError.hasMarker(error, marker);
  }
}
