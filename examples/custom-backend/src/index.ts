export { createKvBackend, KV_BACKEND_NAME, type KvBackendOptions } from "./kv-backend.js";
export { createMapKv, type KvStore, KvUnavailableError } from "./kv-store.js";
