import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ValidationError } from "@trainable/core";
import type { PluginService } from "@trainable/plugin-runtime";

export interface LoadedPlugin {
  /** The name the plugin is registered under in the engine. */
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any>;
}

function isPluginService(value: unknown): value is PluginService {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { run?: unknown }).run === "function" &&
    typeof (value as { inputSchema?: { safeParse?: unknown } }).inputSchema?.safeParse ===
      "function"
  );
}

/**
 * Loads `--plugin <module>`: a file path (relative to the working directory) or a package
 * name, whose default export (or `plugin` export) is a plugin service instance or class.
 */
export async function loadPlugin(spec: string, cwd: string): Promise<LoadedPlugin> {
  const looksLikePath = spec.startsWith(".") || isAbsolute(spec) || /\.(m?js|cjs)$/.test(spec);
  let url: string;
  if (looksLikePath) {
    const path = resolve(cwd, spec);
    if (!existsSync(path)) {
      throw ValidationError.forField("cli", "--plugin", `no file at ${path}`);
    }
    url = pathToFileURL(path).href;
  } else {
    try {
      url = pathToFileURL(createRequire(join(cwd, "package.json")).resolve(spec)).href;
    } catch {
      throw ValidationError.forField("cli", "--plugin", `cannot find module "${spec}" from ${cwd}`);
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (cause) {
    throw new ValidationError(
      `[cli] Invalid --plugin: importing "${spec}" failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, issues: [{ path: "--plugin", message: "import failed" }] },
    );
  }
  let candidate = mod.default ?? mod.plugin;
  if (typeof candidate === "function") {
    try {
      candidate = new (candidate as new () => unknown)();
    } catch {
      // not a class: fall through to the check below
    }
  }
  if (!isPluginService(candidate)) {
    throw ValidationError.forField(
      "cli",
      "--plugin",
      `"${spec}" must export a plugin service (an instance or class with run() and inputSchema) as its default export`,
    );
  }
  let name = basename(spec, extname(spec));
  if (name === "index" || name === "plugin") {
    const pkgJson = looksLikePath ? findPackageName(resolve(cwd, spec)) : spec;
    name = pkgJson ?? candidate.pluginName;
  }
  name =
    name
      .replace(/^@/, "")
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .replace(/^[^A-Za-z0-9]+/, "") || "plugin";
  return { name: name.slice(0, 128), service: candidate };
}

function findPackageName(file: string): string | undefined {
  let dir = resolve(file, "..");
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "package.json");
    if (existsSync(p)) {
      try {
        return (JSON.parse(readFileSync(p, "utf8")) as { name?: string }).name;
      } catch {
        return undefined;
      }
    }
    dir = resolve(dir, "..");
  }
  return undefined;
}
