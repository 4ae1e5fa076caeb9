import type { TrainableModel, TrainableModelClass } from "@trainable/core";

/** A concrete `TrainableModel` subclass: constructible, with the static `loadRemote` and `useRemote`. */
// biome-ignore lint/suspicious/noExplicitAny: any config
export type ModelClass<Model extends TrainableModel<any>> = TrainableModelClass<Model> &
  Pick<typeof TrainableModel, "loadRemote" | "useRemote" | "loadFromLocalCheckpoint">;
