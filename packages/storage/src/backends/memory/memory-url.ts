import { shownUrl, urlError } from "../backend-url.js";
import type { RemoteBackend } from "../types.js";
import { createMemoryBackend } from "./memory-backend.js";

/** `memory://name` backends, shared within the process. */
const namedMemoryBackends = new Map<string, RemoteBackend>();

/** `memory://`: a fresh in-memory backend; `memory://name`: the one of that name in this process. */
export function memoryBackendFromUrl(url: URL): RemoteBackend {
  if (url.search || url.hash) throw urlError("memory URLs take no query or #fragment");
  if (url.pathname !== "" && url.pathname !== "/") {
    throw urlError(`memory URLs are memory:// or memory://name, got "${shownUrl(url)}"`);
  }
  const name = url.host;
  if (name === "") return createMemoryBackend();
  let backend = namedMemoryBackends.get(name);
  if (!backend) {
    backend = createMemoryBackend({ name });
    namedMemoryBackends.set(name, backend);
  }
  return backend;
}
