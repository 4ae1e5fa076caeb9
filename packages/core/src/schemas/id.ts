import { z } from "zod";
import { ID_PATTERN } from "../ids/validate-id.js";

/** A workspace id, plugin instance id or handle, as a zod schema. */
export const Id = z
  .string()
  .regex(
    ID_PATTERN,
    'must start with a letter or digit, contain only letters, digits, ".", "_", "-", and be at most 128 characters',
  );
