import { type Id, validateId } from "@trainable/core";

/**
 * A commander option parser for an id flag (`--instance`, `--handle`, `--workspace`): the value
 * is checked once, as it is parsed, and the command's action gets an {@link Id}. A bad value
 * is a `ValidationError` naming the flag (exit code 2).
 */
export function idFlag(flag: string): (value: string) => Id {
  return (value) => validateId(value, flag);
}

/** A comma-separated list of ids (`--protect a,b`): empty items are dropped, items trimmed. */
export function idListFlag(flag: string): (value: string) => Id[] {
  return (value) =>
    value
      .split(",")
      .filter(Boolean)
      .map((item) => validateId(item.trim(), flag));
}
