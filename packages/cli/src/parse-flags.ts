import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ValidationError } from "@trainable/core";
import type { z } from "zod";

/** `--config <json|file>`: inline JSON, or a path to a JSON file. */
export function parseJsonOrFile(value: string, flag: string, cwd: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch (cause) {
      throw new ValidationError(
        `[cli] Invalid ${flag}: not valid JSON (${(cause as Error).message})`,
        {
          cause,
          issues: [{ path: flag, message: "not valid JSON" }],
        },
      );
    }
  }
  const path = isAbsolute(value) ? value : resolve(cwd, value);
  if (!existsSync(path)) {
    throw ValidationError.forField(
      "cli",
      flag,
      `expected inline JSON or a JSON file; no file at ${path}`,
    );
  }
  const text = readTextFile(value, flag, cwd);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(`[cli] Invalid ${flag}: ${path} is not valid JSON`, {
      cause,
      issues: [{ path: flag, message: "not valid JSON" }],
    });
  }
}

/** `--param k=v` (repeatable): values are JSON when they parse as JSON, else strings. */
export function parseParams(values: string[] | undefined): Record<string, unknown> | undefined {
  if (!values?.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const item of values) {
    const eq = item.indexOf("=");
    if (eq <= 0)
      throw ValidationError.forField("cli", "--param", `expected key=value, got "${item}"`);
    const key = item.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(key)) {
      throw ValidationError.forField("cli", "--param", `"${key}" is not a valid parameter name`);
    }
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[key] = value;
  }
  return out;
}

/** `--data <path|url>`: an existing local path becomes a file: URL; URLs pass through. */
export function parseDataFlag(value: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      return new URL(value).href;
    } catch {
      throw ValidationError.forField("cli", "--data", `"${value}" is not a valid URL`);
    }
  }
  const path = isAbsolute(value) ? value : resolve(cwd, value);
  if (!existsSync(path))
    throw ValidationError.forField("cli", "--data", `no file or folder at ${path}`);
  return pathToFileURL(path).href;
}

/**
 * Re-words a `ValidationError` raised while using a flag's value (e.g. a plugin refusing the
 * `--config` it was given) so the one-line error names the flag; other errors pass through.
 */
export function asFlagError(error: unknown, flag: string): unknown {
  if (!ValidationError.isInstance(error)) return error;
  const problem = error.message.replace(/^\[[^\]]*\]\s*/, "");
  return new ValidationError(`[cli] Invalid ${flag}: ${problem}`, {
    cause: error,
    issues: [{ path: flag, message: problem }],
  });
}

/**
 * Checks a command's options (and arguments) with a zod schema. The error names the flag of
 * the first bad field: `instance` → `--instance`; fields in `names` are shown as given there
 * (e.g. `{ dir: "<dir>" }` for an argument).
 */
export function parseFlags<T extends z.ZodType>(
  schema: T,
  values: unknown,
  names: Record<string, string> = {},
): z.infer<T> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? "");
  const flag = names[field] ?? `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const value = (values as Record<string, unknown> | null)?.[field];
  const got =
    typeof value === "string"
      ? `, got ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
      : "";
  throw ValidationError.forField("cli", flag, `${issue?.message ?? "invalid value"}${got}`);
}

/**
 * Reads a file named by a flag (`--input-file`, `--config`): a missing file, a directory or an
 * unreadable file is a `ValidationError` naming the flag, never a raw `EISDIR`/`EACCES`.
 */
export function readTextFile(value: string, flag: string, cwd: string): string {
  const path = isAbsolute(value) ? value : resolve(cwd, value);
  let problem: string | undefined;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) problem = `${path} is a directory, not a file`;
    else if (!stat.isFile()) problem = `${path} is not a regular file`;
    else return readFileSync(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    problem =
      code === "ENOENT" || code === "ENOTDIR"
        ? `no file at ${path}`
        : `cannot read ${path} (${code ?? (cause as Error).message})`;
  }
  throw ValidationError.forField("cli", flag, problem);
}

/**
 * Re-words a library `ValidationError` that names option fields (`keepLast`) to name the
 * command's flags instead (`--keep-last`), in its message and issues; other errors pass through.
 */
export function fieldsAsFlags(error: unknown, flags: Record<string, string>): unknown {
  if (!ValidationError.isInstance(error)) return error;
  const rename = (text: string) =>
    text.replace(
      /\b[A-Za-z]+\b/g,
      (word) => (Object.hasOwn(flags, word) ? flags[word] : word) as string,
    );
  const message = rename(error.message.replace(/^\[[^\]]*\]\s*/, ""));
  return new ValidationError(`[cli] ${message}`, {
    cause: error,
    issues: error.issues.map((issue) => ({
      path: flags[issue.path] ?? issue.path,
      message: rename(issue.message),
    })),
  });
}
