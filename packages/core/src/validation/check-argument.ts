import { ValidationError } from "../errors/validation-error.js";
import type { CheckpointStore } from "../ports/checkpoint-store.js";
import type { ModelCache } from "../ports/model-cache.js";
import { describeValue, isPromiseLike } from "./describe-value.js";

/** Where an argument is checked: the component tag of messages and the call, for hints. */
export interface ArgumentSite {
  /** Component tag of the message: `core`, `storage`, `cache`, `runtime`. */
  component: string;
  /** The call the argument was passed to, e.g. `saveRemote`. */
  call: string;
}

function invalid(site: ArgumentSite, field: string, problem: string): ValidationError {
  return new ValidationError(
    `[${site.component}] Invalid ${field} passed to ${site.call}: ${problem}`,
    {
      issues: [{ path: field, message: problem }],
    },
  );
}

/** `field is a Promise: did you forget await?` — the most common slip with async factories. */
function promiseProblem(field: string, factory?: string): string {
  return `${field} is a Promise: did you forget await?${factory ? ` (${field} = await ${factory})` : ""}`;
}

/**
 * Checks the options object of a call: present, an object (not a Promise, not a string).
 * Throws a `ValidationError` naming it and the likely mistake.
 */
export function checkOptionsObject<T>(
  value: T,
  site: ArgumentSite & { field?: string; expected: string },
): asserts value is NonNullable<T> {
  const field = site.field ?? "options";
  if (isPromiseLike(value)) throw invalid(site, field, promiseProblem(field));
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(
      site,
      field,
      `expected an options object ${site.expected}, got ${describeValue(value)}`,
    );
  }
}

const STORE_FACTORY = "createCheckpointStore({ url, workspace })";

/**
 * Checks that `value` is a checkpoint store (`CheckpointStore`): the likely mistakes — an
 * un-awaited `createCheckpointStore(...)`, a model cache passed as the store, nothing at all —
 * get a message naming the argument and the fix, not `store.save is not a function` later.
 */
export function checkCheckpointStore(
  value: unknown,
  site: ArgumentSite & {
    field?: string;
    /** The methods the call uses. Default: save, resolve, fetch, withCheckpoint and workspace. */
    uses?: readonly string[];
  },
): asserts value is CheckpointStore {
  const field = site.field ?? "store";
  const uses = site.uses ?? ["save", "resolve", "fetch", "withCheckpoint", "workspace"];
  if (isPromiseLike(value)) throw invalid(site, field, promiseProblem(field, STORE_FACTORY));
  if (value === undefined || value === null) {
    throw invalid(site, field, `${field} is required: pass the store of await ${STORE_FACTORY}`);
  }
  if (typeof value !== "object") {
    const hint =
      typeof value === "string"
        ? ` (a URL is not a store: await ${STORE_FACTORY.replace("url", `url: "${value.slice(0, 60)}"`)})`
        : "";
    throw invalid(site, field, `expected a checkpoint store, got ${describeValue(value)}${hint}`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v.getOrLoad === "function" && typeof v.save !== "function") {
    throw invalid(
      site,
      field,
      `${field} is a model cache, not a checkpoint store: pass the store as ${field} and the cache as cache`,
    );
  }
  // A loop, not filter(): this runs on every served request, and nothing is missing there.
  const missing: string[] = [];
  for (const member of uses) {
    const lacks =
      member === "workspace" ? typeof v.workspace !== "string" : typeof v[member] !== "function";
    if (lacks) missing.push(member);
  }
  if (missing.length > 0) {
    const lacks = missing.map((m) => (m === "workspace" ? m : `${m}()`)).join(", ");
    throw invalid(
      site,
      field,
      `expected a checkpoint store (the store of await ${STORE_FACTORY}), got ${describeValue(value)} without ${lacks}`,
    );
  }
}

/**
 * Checks an optional model cache argument (`undefined` and `false` pass: no cache). An
 * un-awaited promise, a store passed as the cache, or another object are named as such.
 */
export function checkModelCache(
  value: unknown,
  site: ArgumentSite & { field?: string },
): asserts value is ModelCache | false | undefined {
  const field = site.field ?? "cache";
  if (value === undefined || value === false) return;
  if (isPromiseLike(value)) throw invalid(site, field, promiseProblem(field));
  if (value === null || typeof value !== "object") {
    throw invalid(
      site,
      field,
      `expected a model cache (createModelCache({ store })), false or nothing, got ${describeValue(value)}`,
    );
  }
  const v = value as Record<string, unknown>;
  if (typeof v.getOrLoad !== "function" && typeof v.save === "function") {
    throw invalid(
      site,
      field,
      `${field} is a checkpoint store, not a model cache: pass it as store, and createModelCache({ store }) as ${field}`,
    );
  }
  if (typeof v.getOrLoad !== "function" || typeof v.invalidate !== "function") {
    throw invalid(
      site,
      field,
      `expected a model cache (createModelCache({ store })), got ${describeValue(value)} without getOrLoad()/invalidate()`,
    );
  }
}
