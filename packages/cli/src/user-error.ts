import { TrainableError, type TrainableErrorCode } from "@trainable/core";
import { CommanderError } from "commander";

/** What the user sees of an error: its code and a one-line message without component tags. */
export interface UserError {
  code: TrainableErrorCode;
  message: string;
}

/**
 * The component tags of library messages (`[cli]`, `[storage] [s3]`, …): useful in logs of
 * an application embedding the packages, noise in a command's one-line error.
 */
const COMPONENT_TAG = /\[(?:cli|core|storage|cache|runtime|s3|file|memory)\]\s*/g;

/** A message on one line, without component tags. */
export function userMessage(message: string): string {
  return message
    .replace(COMPONENT_TAG, "")
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

/**
 * The one shape of every error the command reports: commander's usage errors
 * (`error: unknown option '--x'`) become `VALIDATION` like the CLI's own flag errors.
 */
export function toUserError(error: unknown): UserError {
  if (error instanceof CommanderError) {
    return {
      code: "VALIDATION",
      message: userMessage(error.message.replace(/^error:\s*/i, "")),
    };
  }
  if (TrainableError.isInstance(error)) {
    return { code: error.code, message: userMessage(error.message) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message: userMessage(message) };
}
