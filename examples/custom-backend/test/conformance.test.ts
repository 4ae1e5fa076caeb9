import { testBackend } from "@trainable/storage/conformance";
import { createKvBackend } from "../src/kv-backend.js";
import { createMapKv } from "../src/kv-store.js";

// The same suite the file, memory and S3 backends pass.
testBackend({ name: "kv", create: () => createKvBackend({ kv: createMapKv() }) });
