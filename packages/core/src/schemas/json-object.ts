import { z } from "zod";

/** A JSON object with string keys (hyperparameters, metrics, free-form metadata). */
export const JsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObject>;
