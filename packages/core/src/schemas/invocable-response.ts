import { z } from "zod";
import { Task } from "./task.js";

/** An error as it travels in a response: a code and a message, never a stack. */
export const ResponseError = z.object({
  code: z.string(),
  message: z.string(),
  suggestion: z.string().optional(),
});
export type ResponseError = z.infer<typeof ResponseError>;

/** What a plugin answers: `data`, and a `status` task when the work is (or was) asynchronous. */
export interface InvocableResponse<T> {
  data?: T;
  status?: Task;
  error?: ResponseError;
}

/** Builds the zod schema of an `InvocableResponse<T>` for a given data schema. */
export function invocableResponseSchema<S extends z.ZodType>(data: S) {
  return z.object({
    data: data.optional(),
    status: Task.optional(),
    error: ResponseError.optional(),
  });
}
