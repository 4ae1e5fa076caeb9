/** What the dashboard's API answers (the fields the page uses). */

export type TaskState = "waiting" | "running" | "succeeded" | "failed" | "cancelled";

export interface Info {
  store: string;
  workspace: string;
  engine: string;
  source: "local" | "queue";
  readOnly: boolean;
  tokenRequired: boolean;
}

export interface CheckpointSummary {
  handle: string;
  digest: string;
  size: number;
  totalBytes: number;
  files: number;
  createdAt: string;
  parent: string | null;
  metrics: Record<string, number>;
  isDefault: boolean;
}

export interface InstanceRow {
  id: string;
  plugin: string;
  handle?: string;
  config?: unknown;
  /** A read-only dashboard does not show configs (where plugin secrets live). */
  configHidden?: boolean;
  default: CheckpointSummary | null;
  /** Why `default` could not be read (the store's error). */
  defaultError?: string;
  trainings: number;
  running: number;
}

export type JsonObject = Record<string, unknown>;

export interface PostUpdate {
  state?: string;
  statusMessage?: string;
  output?: { trainingProgress?: JsonObject; trainingResults?: JsonObject };
}

export interface Task {
  taskId: string;
  instanceId: string;
  plugin: string;
  state: TaskState;
  statusMessage?: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  save: { handle: string; setAsDefault: boolean };
  progress?: JsonObject;
  updates: { at: string; update: PostUpdate | JsonObject }[];
  output?: { trainingResults?: JsonObject; archivePath?: string };
  checkpoint?: { handle?: string; digest?: string };
  error?: { code: string; message: string };
}

export interface TaskEvent {
  type: string;
  taskId: string;
  task: Task;
}

export interface PruneAnswer {
  kept: string[];
  deleted: string[];
  /** In a preview: each handle that would go with the digest it points at. */
  deletedRefs?: { handle: string; digest: string }[];
  dryRun: boolean;
  gc?: { blobsDeleted: number; bytesFreed: number };
}
