import { fileURLToPath } from "node:url";
import { parseBooleanParam, shownUrl, urlError } from "../backend-url.js";
import type { RemoteBackend } from "../types.js";
import { createFileBackend, type FileBackendOptions } from "./file-backend.js";

/**
 * `file:///abs/path[?fsync=false]`: the filesystem backend rooted at an absolute local path.
 * `raw` is the URL as written (when it was a string), to refuse relative spellings that URL
 * parsing would resolve silently. `overrides` win over the query parameters.
 */
export function fileBackendFromUrl(
  url: URL,
  raw: string | undefined,
  overrides: Omit<FileBackendOptions, "root"> = {},
): RemoteBackend {
  if (raw !== undefined && !/^file:(\/\/(localhost)?)?\//i.test(raw)) {
    throw urlError(`a file URL must hold an absolute path (file:///abs/path), got "${raw}"`);
  }
  if (url.host !== "" && url.host !== "localhost") {
    throw urlError(`file URLs must be local (file:///abs/path), got host "${url.host}"`);
  }
  if (url.hash) throw urlError("file URLs take no #fragment");
  const fromUrl: Omit<FileBackendOptions, "root"> = {};
  for (const [name, value] of url.searchParams) {
    if (name === "fsync") fromUrl.fsync = parseBooleanParam(name, value);
    else throw urlError(`unknown query parameter "${name}" for file URLs (known: fsync)`);
  }
  let root: string;
  try {
    root = fileURLToPath(new URL(`${url.protocol}//${url.host}${url.pathname}`));
  } catch (error) {
    throw urlError(`bad file URL "${shownUrl(url)}"`, error);
  }
  return createFileBackend({ ...fromUrl, ...overrides, root });
}
