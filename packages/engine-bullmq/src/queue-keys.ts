/** Where the engine keeps its own keys, beside BullMQ's (`{prefix}:{queue}:…`). */
export interface QueueKeys {
  prefix: string;
  queueName: string;
  /** BullMQ's job hash (fields `data`, `progress`, `returnvalue`, …). */
  job(jobId: string): string;
  /** BullMQ's job lock (its value is the token of the worker holding the job). */
  lock(jobId: string): string;
  /** Hash of plugin instances, by id (JSON `EngineInstance`). */
  instances: string;
  /** Durable cancel request of a task (survives a worker change and a Redis restart). */
  cancel(taskId: string): string;
  /** Pub/sub channel of cancel requests (message: the task id). */
  cancelChannel: string;
}

export const DEFAULT_PREFIX = "trainable";
export const DEFAULT_QUEUE = "trainings";

export function queueKeys(prefix: string, queueName: string): QueueKeys {
  const base = `${prefix}:${queueName}`;
  return {
    prefix,
    queueName,
    job: (jobId) => `${base}:${jobId}`,
    lock: (jobId) => `${base}:${jobId}:lock`,
    instances: `${base}:trainable:instances`,
    cancel: (taskId) => `${base}:trainable:cancel:${taskId}`,
    cancelChannel: `${base}:trainable:cancel`,
  };
}
