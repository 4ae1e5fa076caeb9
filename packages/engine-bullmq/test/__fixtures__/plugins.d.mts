import type { TrainableModel } from "@trainable/core";
import type { TrainableTaggerPluginService } from "@trainable/plugin-runtime";

export declare class CountingModel extends TrainableModel<{ countDir: string }> {}
// biome-ignore lint/suspicious/noExplicitAny: fixture typing
export declare class CountingTagger extends TrainableTaggerPluginService<any, any> {}
export declare function readCounts(
  dir: string,
  event: "start" | "save" | "save-ended",
): Promise<Map<string, number>>;
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
// biome-ignore lint/suspicious/noExplicitAny: fixture typing
export declare class ExternalTagger extends TrainableTaggerPluginService<any, any> {}
export declare function countJobs(jobsDir: string): Promise<number>;
export declare function jobStateOf(jobsDir: string, taskId: string): Promise<string>;
// biome-ignore lint/suspicious/noExplicitAny: fixture typing
export declare class SelfSavingTagger extends TrainableTaggerPluginService<any, any> {}
