/**
 * `@trainable/storage/conformance`: the conformance suite every storage backend must pass,
 * for authors of new backends (see docs/writing-a-backend.md). It registers vitest tests, so
 * it needs `vitest` (an optional peer dependency) and runs inside a vitest test file.
 */

export { readAll } from "./conformance/conformance-helpers.js";
export { type BackendTestOptions, testBackend } from "./conformance/test-backend.js";
