import type { TrainingTask } from "@trainable/plugin-runtime";
import { canonicalJson } from "./canonical-json.js";

/** What a training request asks, as `startTraining` compares it with a task of the same id. */
export interface TrainingRequest {
  instanceId: string;
  input: TrainingTask["input"];
  /** The handle asked for, if any (else the engine generated one, saved create-only). */
  handle?: string;
  setAsDefault: boolean;
}

/**
 * What differs between a request and the task already queued under its task id (the
 * idempotency key), or undefined when it is the same request (a retry after a lost answer):
 * the instance, the input (compared as canonical JSON: key order does not matter), the
 * handle (an explicit one, or a generated one on both sides) or `setAsDefault`.
 */
export function requestDifference(
  task: TrainingTask,
  request: TrainingRequest,
): string | undefined {
  if (task.instanceId !== request.instanceId) {
    return `instance ("${task.instanceId}", asked "${request.instanceId}")`;
  }
  if (canonicalJson(task.input) !== canonicalJson(request.input)) return "input";
  const generated = task.save.createOnly === true;
  if (
    request.handle === undefined ? !generated : generated || task.save.handle !== request.handle
  ) {
    const was = generated ? "a generated one" : `"${task.save.handle}"`;
    const asked = request.handle === undefined ? "none" : `"${request.handle}"`;
    return `handle (${was}, asked ${asked})`;
  }
  if (task.save.setAsDefault !== request.setAsDefault) {
    return `setAsDefault (${task.save.setAsDefault}, asked ${request.setAsDefault})`;
  }
  return undefined;
}
