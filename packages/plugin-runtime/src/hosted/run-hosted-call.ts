import { TrainableError } from "@trainable/core";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { errorBody } from "../http/error-body.js";
import type { HostedTask } from "./create-task-host.js";
import { type EmitOptions, emit, type HostedEntry, snapshot } from "./hosted-entry.js";

export interface RunHostedCallOptions extends EmitOptions {
  client: LocalPluginClient;
  /** Called when the call ends, before its `finished` event. */
  onSettled?(task: HostedTask, error: unknown): void | Promise<void>;
  /** Called after the `finished` event (the entry may now be forgotten). */
  onFinished(entry: HostedEntry): void;
}

/**
 * Runs the entry's `train` call: its post-updates become `update` events (and the task's
 * progress and status message), its answer or error the task's end, then `onSettled`, then
 * the `finished` event. Never rejects.
 */
export function runHostedCall(entry: HostedEntry, options: RunHostedCallOptions): Promise<void> {
  return options.client
    .train(entry.request, {
      prevalidated: true,
      signal: entry.controller.signal,
      onUpdate: (update) => {
        if (update.output?.trainingProgress) entry.task.progress = update.output.trainingProgress;
        if (update.statusMessage !== undefined) entry.task.statusMessage = update.statusMessage;
        emit(entry, { type: "update", update }, options);
      },
    })
    .then(
      (response) => {
        entry.task.response = response;
        entry.task.state = response.status.state;
        if (response.status.statusMessage) entry.task.statusMessage = response.status.statusMessage;
      },
      (error: unknown) => {
        entry.error = error;
        const { body } = errorBody(error, entry.task.taskId);
        entry.task.error = body.error;
        entry.task.state =
          TrainableError.isInstance(error) && error.code === "CANCELLED" ? "cancelled" : "failed";
        entry.task.statusMessage = body.error.message;
      },
    )
    .then(() => options.onSettled?.(snapshot(entry), entry.error))
    .catch(() => {})
    .finally(() => {
      emit(entry, { type: "finished", task: snapshot(entry) }, options);
      options.onFinished(entry);
    });
}
