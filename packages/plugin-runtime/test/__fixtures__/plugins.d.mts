import type { TrainableModel } from "@trainable/core";
import type { z } from "zod";
import type {
  ClassifierPluginService,
  TrainableClassifierPluginService,
  TrainableTaggerPluginService,
} from "../../src/index.js";

export declare const KeywordConfig: z.ZodType<{ tagKind: string }>;
export declare class KeywordModel extends TrainableModel<{ tagKind: string }> {
  keywords: string[];
  saveToFolder(dir: string): Promise<void>;
  loadFromFolder(dir: string): Promise<void>;
  train: TrainableModel["train"];
}
export declare class KeywordTagger extends TrainableTaggerPluginService<
  { tagKind: string },
  KeywordModel
> {
  configSchema: z.ZodType<{ tagKind: string }>;
  modelClass: typeof KeywordModel;
  runWithModel: TrainableTaggerPluginService<{ tagKind: string }, KeywordModel>["runWithModel"];
}

export interface ExternalConfigType {
  jobsDir: string;
  tagKind: string;
}
export declare const ExternalConfig: z.ZodType<ExternalConfigType>;
export declare class ExternalJobModel extends TrainableModel<ExternalConfigType> {
  jobId: string | undefined;
  keywords: string[];
  saveToFolder(dir: string): Promise<void>;
  loadFromFolder(dir: string): Promise<void>;
  train: TrainableModel["train"];
}
export declare class ExternalTagger extends TrainableTaggerPluginService<
  ExternalConfigType,
  ExternalJobModel
> {
  configSchema: z.ZodType<ExternalConfigType>;
  modelClass: typeof ExternalJobModel;
  runWithModel: TrainableTaggerPluginService<ExternalConfigType, ExternalJobModel>["runWithModel"];
}

export interface FakeJob {
  jobId: string;
  keywords: string[];
  finishAt: number;
  checksNeeded: number;
  checks: number;
  state: "running" | "succeeded" | "cancelled";
}
export declare const fakeJobs: {
  submit(
    jobsDir: string,
    spec: { keywords?: string[]; jobMs?: number; checksNeeded?: number; token?: string },
  ): Promise<string>;
  check(jobsDir: string, jobId: string): Promise<FakeJob>;
  cancel(jobsDir: string, jobId: string): Promise<void>;
  read(jobsDir: string, jobId: string): Promise<FakeJob>;
  /** How many jobs were ever submitted. */
  count(jobsDir: string): Promise<number>;
};

export declare class KeywordClassifier extends TrainableClassifierPluginService<
  Record<string, never>,
  KeywordModel
> {
  configSchema: z.ZodType<Record<string, never>>;
  modelClass: typeof KeywordModel;
  runWithModel: TrainableClassifierPluginService<
    Record<string, never>,
    KeywordModel
  >["runWithModel"];
}
export declare class LengthClassifier extends ClassifierPluginService {
  run: ClassifierPluginService["run"];
}
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
