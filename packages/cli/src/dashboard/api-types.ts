/**
 * The JSON the dashboard's API answers, declared once: the server checks its answers against
 * these types (`satisfies`) and the page (`web/src`) imports them. Types only, no imports:
 * the page's build and typecheck (`web/tsconfig.json`) read this file as it is.
 */

type TaskState = "waiting" | "running" | "succeeded" | "failed" | "cancelled";

type JsonObject = Record<string, unknown>;

/** `GET api/info`. */
export interface Info {
  store: string;
  workspace: string;
  engine: string;
  source: "local" | "queue";
  readOnly: boolean;
  tokenRequired: boolean;
}

/** A checkpoint as the page shows it. */
export interface CheckpointSummary {
  handle: string;
  digest: string;
  /** Archive bytes. */
  size: number;
  /** Bytes of file data in the folder. */
  totalBytes: number;
  files: number;
  createdAt: string;
  parent: string | null;
  /** The numeric `trainingResults` (f1, accuracy…). */
  metrics: Record<string, number>;
  /** `default` points at this checkpoint (or this is `default`). */
  isDefault: boolean;
}

/** A row of `GET api/instances`. */
export interface InstanceRow {
  id: string;
  /**
   * The plugin, when the engine knows the instance (its instances, or its trainings). Absent
   * for an instance known only from its checkpoints in the store (pushed, imported).
   */
  plugin?: string;
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

/** `GET api/instances`: the engine's instances and those with checkpoints in the store. */
export interface InstancesAnswer {
  instances: InstanceRow[];
  /** Why the store's instances could not be listed (the others are still there). */
  storeError?: string;
}

interface PostUpdate {
  state?: string;
  statusMessage?: string;
  output?: { trainingProgress?: JsonObject; trainingResults?: JsonObject };
}

/** A training (the fields the page uses), as `GET api/tasks` and the events carry it. */
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

/** A `task` event of `GET api/events`. */
export interface TaskEvent {
  type: string;
  taskId: string;
  task: Task;
}

/** `POST api/instances/:id/prune`. */
export interface PruneAnswer {
  kept: string[];
  deleted: string[];
  /** In a preview: each handle that would go with the digest it points at. */
  deletedRefs?: { handle: string; digest: string }[];
  dryRun: boolean;
  gc?: { blobsDeleted: number; bytesFreed: number };
}
