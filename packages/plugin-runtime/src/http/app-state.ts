import type { Hono } from "hono";
import type { IssuedTaskTable } from "./issued-tasks.js";

/** What an app built by `createPluginApp` records about itself, for `servePlugin` and tests. */
export interface AppState {
  /** Whether the app requires a bearer token. */
  token: boolean;
  /** The trainings it started. */
  tasks: IssuedTaskTable;
}
const appStates = new WeakMap<Hono, AppState>();

/** Records the state of an app built by `createPluginApp`. */
export function setAppState(app: Hono, state: AppState): void {
  appStates.set(app, state);
}

/**
 * Whether an app built by `createPluginApp` requires a token; `undefined` for any other
 * Hono app (which `servePlugin` cannot vouch for).
 */
export function pluginAppRequiresToken(app: Hono): boolean | undefined {
  return appStates.get(app)?.token;
}

/** The trainings an app built by `createPluginApp` started (for tests and diagnostics). */
export function issuedTasksOf(app: Hono): IssuedTaskTable | undefined {
  return appStates.get(app)?.tasks;
}
