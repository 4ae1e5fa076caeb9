import { z } from "zod";
import { ID_PATTERN } from "../ids/validate-id.js";

declare const idBrand: unique symbol;

/**
 * A workspace id, plugin instance id or handle that has been checked: what `validateId`
 * returns. Validate once where an id comes in (a CLI flag, an HTTP body, a store or model
 * method) and pass the `Id` on; functions that take an `Id` do not check it again.
 */
export type Id = string & { readonly [idBrand]: true };

/** A workspace id, plugin instance id or handle, as a zod schema (output: a plain string). */
export const Id = z
  .string()
  .regex(
    ID_PATTERN,
    'must start with a letter or digit, contain only letters, digits, ".", "_", "-", and be at most 128 characters',
  );
