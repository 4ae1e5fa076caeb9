import { ValidationError } from "@trainable/core";

/** A plugin server's base URL, checked. */
export interface PluginServerUrl {
  /** The base URL with a trailing `/`, which request paths are resolved against. */
  root: string;
  /** The server as messages name it: origin and path, without a trailing `/`. */
  display: string;
}

/** Checks a plugin server's base URL (`http:` or `https:`); a `ValidationError` otherwise. */
export function parsePluginServerUrl(baseUrl: string | URL): PluginServerUrl {
  let base: URL;
  try {
    base = new URL(String(baseUrl));
  } catch {
    throw ValidationError.forField(
      "runtime",
      "baseUrl",
      `${JSON.stringify(String(baseUrl))} is not a URL`,
    );
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw ValidationError.forField("runtime", "baseUrl", "must be an http: or https: URL");
  }
  return {
    root: base.href.endsWith("/") ? base.href : `${base.href}/`,
    display: `${base.origin}${base.pathname === "/" ? "" : base.pathname}`,
  };
}
