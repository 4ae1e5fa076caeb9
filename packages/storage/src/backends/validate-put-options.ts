import type { Readable } from "node:stream";
import { ValidationError } from "@trainable/core";
import { optionError } from "./option-error.js";
import type { PutOptions } from "./types.js";

/** Checks a put's body and options before any I/O; a bad one is a `ValidationError`. */
export function validatePutOptions(
  component: string,
  body: Readable | Uint8Array,
  options: PutOptions,
): void {
  const isStream =
    typeof body === "object" &&
    body !== null &&
    typeof (body as Readable).pipe === "function" &&
    Symbol.asyncIterator in body;
  if (!(body instanceof Uint8Array) && !isStream) {
    throw optionError(component, "body", "must be a Uint8Array or a Readable stream");
  }
  if (options.ifNoneMatch !== undefined && options.ifNoneMatch !== "*") {
    throw optionError(component, "ifNoneMatch", 'must be "*" (create only)');
  }
  if (
    options.ifMatch !== undefined &&
    (typeof options.ifMatch !== "string" || options.ifMatch === "")
  ) {
    throw optionError(component, "ifMatch", "must be a non-empty ETag string");
  }
  if (options.ifMatch !== undefined && options.ifNoneMatch !== undefined) {
    throw optionError(component, "ifMatch", "cannot be combined with ifNoneMatch");
  }
  const { contentLength } = options;
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw optionError(component, "contentLength", "must be an integer >= 0");
  }
  if (
    contentLength !== undefined &&
    body instanceof Uint8Array &&
    body.byteLength !== contentLength
  ) {
    throw optionError(
      component,
      "contentLength",
      `is ${contentLength} but the body has ${body.byteLength} bytes`,
    );
  }
}

/** After a streamed body is stored: its size must be the `contentLength` the caller declared. */
export function checkWrittenLength(
  component: string,
  written: number,
  contentLength: number | undefined,
): void {
  if (contentLength !== undefined && contentLength !== written) {
    throw new ValidationError(
      `[storage] [${component}] Body has ${written} bytes but contentLength said ${contentLength}`,
      { issues: [{ path: "contentLength", message: "does not match the body" }] },
    );
  }
}
