/**
 * Hostile HTTP requests: property-based fuzzing (fast-check, seeded) of every route of
 * `createPluginApp`, served by `servePlugin` on a real socket with a file: store and a small
 * trainable tagger. Invalid JSON, wrong types, random JSON in every field, bad ids (`../x`,
 * empty, 10 KiB), bodies over the limit (with and without Content-Length), deep nesting, and
 * requests that parse but name things that do not exist. Every answer must be a 4xx with a JSON
 * error and no stack trace, nothing unexpected may reach the server's error log, the server must
 * keep serving (a good request after each batch), and the store's files must not change.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache } from "@trainable/cache";
import { pluginRequestSchema, TrainingParameterPluginInput } from "@trainable/core";
import {
  type ServedPlugin,
  servePlugin,
  TaggerInput,
  TrainRequest,
} from "@trainable/plugin-runtime";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  anyJson,
  badId,
  deepJson,
  invalidJsonText,
  setPath,
  TEN_KIB_ID,
} from "./hostile/arbitraries.js";
import { type Answer, closeAgent, type SentRequest, send } from "./hostile/http-client.js";
import { snapshotTree } from "./hostile/snapshot.js";
import HostileTagger, { WordModel } from "./hostile/tagger-plugin.mjs";
import { recordCase, trials } from "./report.js";

const SEED = 20_260_901;
const BODY_LIMIT = 64 * 1024;
const CASES = trials(1000, 5000);
const BATCHES = 10;

let work: string;
let storeDir: string;
let store: CheckpointStoreImpl;
let served: ServedPlugin;
let snapshot: Record<string, string>;
const serverErrors: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "trainable-hostile-http-"));
  storeDir = join(work, "store");
  store = await createCheckpointStore({
    url: pathToFileURL(storeDir).href,
    workspace: "ws",
    fingerprintCache: join(work, "fingerprints"),
  });
  const model = new WordModel();
  model.words = ["spam"];
  await model.saveRemote({ store, pluginInstanceId: "good", handle: "v1" });
  const cache = createModelCache({ store, diskDir: join(work, "cache"), revalidateMs: 0 });
  served = await servePlugin(new HostileTagger(), {
    store,
    cache,
    port: 0,
    bodyLimit: BODY_LIMIT,
    instances: { good: { config: {} }, other: { config: { tagKind: "other" } } },
    logger: {
      error: (message, error) =>
        serverErrors.push(`${message}: ${(error as Error)?.stack ?? error}`),
    },
  });
  snapshot = await snapshotTree(storeDir);
  expect(Object.keys(snapshot).length).toBeGreaterThan(3);
});

afterAll(async () => {
  closeAgent();
  await served?.close();
  await store?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const GOOD_RUN = {
  data: { file: { blocks: [{ text: "buy spam now" }, { text: "hello" }] } },
  context: { pluginInstanceId: "good", workspace: "ws" },
};
const GOOD_TRAIN = {
  data: { pluginInstance: "good", trainingEpochs: 1, trainingParams: { words: ["spam"] } },
  context: { pluginInstanceId: "good" },
  save: { handle: "fuzzed", setAsDefault: false },
};
const GOOD_PARAMS = {
  data: { pluginInstance: "good", trainingEpochs: 1, testingHoldoutPercent: 0.2 },
  context: { pluginInstanceId: "good" },
};

interface Route {
  name: string;
  /** The case it is recorded under (src/cases.json). */
  caseId: string;
  method: "POST" | "GET";
  path: string;
  schema?: z.ZodType;
  good?: unknown;
  fields?: string[];
}

const runSchema = pluginRequestSchema(TaggerInput).extend({ data: TaggerInput });
const paramsSchema = pluginRequestSchema(TrainingParameterPluginInput).extend({
  data: TrainingParameterPluginInput,
});
const RUN_FIELDS = [
  "data",
  "data.file",
  "data.file.blocks",
  "data.file.blocks.0",
  "data.file.blocks.0.text",
  "data.file.blocks.0.tags",
  "data.file.blocks.0.id",
  "data.file.tags",
  "data.file.id",
  "context",
  "context.pluginInstanceId",
  "context.workspace",
  "context.pluginHandle",
  "context.pluginInstanceHandle",
  "status",
  "status.state",
  "status.taskId",
  "isStatusCheck",
];
const TRAIN_FIELDS = [
  "data",
  "data.pluginInstance",
  "data.trainingEpochs",
  "data.testingHoldoutPercent",
  "data.testSplitSeed",
  "data.trainingParams",
  "data.inferenceParams",
  "data.trainingDataUrl",
  "context",
  "context.pluginInstanceId",
  "context.workspace",
  "save",
  "save.handle",
  "save.setAsDefault",
  "status",
  "status.taskId",
  "status.state",
  "status.remoteStatusInput",
  "status.retryAfterMs",
  "isStatusCheck",
];
const PARAMS_FIELDS = [
  ...TRAIN_FIELDS.filter((f) => !f.startsWith("save")),
  "data.exportPluginInput",
];

const ROUTES: Route[] = [
  {
    name: "POST /run",
    caseId: "hostile-requests.post-run",
    method: "POST",
    path: "/run",
    schema: runSchema,
    good: GOOD_RUN,
    fields: RUN_FIELDS,
  },
  {
    name: "POST /tag",
    caseId: "hostile-requests.post-tag",
    method: "POST",
    path: "/tag",
    schema: runSchema,
    good: GOOD_RUN,
    fields: RUN_FIELDS,
  },
  {
    name: "POST /train",
    caseId: "hostile-requests.post-train",
    method: "POST",
    path: "/train",
    schema: TrainRequest,
    good: GOOD_TRAIN,
    fields: TRAIN_FIELDS,
  },
  {
    name: "POST /getTrainingParameters",
    caseId: "hostile-requests.post-parameters",
    method: "POST",
    path: "/getTrainingParameters",
    schema: paramsSchema,
    good: GOOD_PARAMS,
    fields: PARAMS_FIELDS,
  },
  { name: "GET /health", caseId: "hostile-requests.get-health", method: "GET", path: "/health" },
];

/** A JSON value as the server will see it (after a stringify/parse round trip). */
const roundTrip = (value: unknown): unknown => {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
};

/** Bodies the schema refuses: random JSON, wrong types in 1-3 fields, bad ids in id fields. */
function invalidBodies(route: Route): fc.Arbitrary<SentRequest> {
  const schema = route.schema!;
  const invalid = (value: unknown) => !schema.safeParse(roundTrip(value)).success;
  const asRequest = (value: unknown): SentRequest => ({
    method: "POST",
    path: route.path,
    body: JSON.stringify(value) ?? "null",
  });
  const idFields = route.fields!.filter((f) =>
    /pluginInstance(Id)?$|workspace$|handle$|Handle$|taskId$/.test(f),
  );
  const mutated = fc
    .array(fc.tuple(fc.constantFrom(...route.fields!), anyJson), { minLength: 1, maxLength: 3 })
    .map((edits) => edits.reduce((body, [path, value]) => setPath(body, path, value), route.good));
  const badIds = fc
    .tuple(fc.constantFrom(...idFields), badId)
    .map(([path, id]) => setPath(route.good, path, id));
  return fc.oneof(
    { weight: 4, arbitrary: mutated.filter(invalid).map(asRequest) },
    { weight: 3, arbitrary: badIds.filter(invalid).map(asRequest) },
    { weight: 2, arbitrary: anyJson.filter(invalid).map(asRequest) },
    {
      weight: 2,
      arbitrary: invalidJsonText.map((body) => ({ method: "POST", path: route.path, body })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: JSON.stringify(route.good).length - 1 }).map((n) => ({
        method: "POST",
        path: route.path,
        body: JSON.stringify(route.good).slice(0, n),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("", " ", "\n\t")
        .map((body) => ({ method: "POST", path: route.path, body })),
    },
    {
      weight: 1,
      arbitrary: deepJson.map((body) => ({ method: "POST", path: route.path, body })),
    },
    {
      // Over the body limit: an otherwise valid body padded past it, with or without Content-Length.
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: BODY_LIMIT + 1, max: 4 * BODY_LIMIT }), fc.boolean())
        .map(([size, chunked]) => {
          const text = JSON.stringify(route.good);
          return {
            method: "POST",
            path: route.path,
            body: `${text.slice(0, -1)}${" ".repeat(Math.max(0, size - text.length))}}`,
            chunked,
          };
        }),
    },
    {
      // Bodies that parse but name what does not exist or does not match.
      weight: 1,
      arbitrary: semanticBodies(route).map(asRequest),
    },
    ...(route.path === "/run" || route.path === "/tag"
      ? [
          {
            weight: 1,
            arbitrary: fc.oneof(badId, fc.constantFrom("missing-handle", "v2")).map((handle) => ({
              method: "POST",
              path: `${route.path}?handle=${encodeURIComponent(handle)}`,
              body: JSON.stringify(GOOD_RUN),
            })),
          },
        ]
      : []),
  );
}

/** Schema-valid requests that must still be refused (4xx): unknown instance, wrong workspace… */
function semanticBodies(route: Route): fc.Arbitrary<unknown> {
  const unknown = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).map((s) => `unknown-${s}`);
  const good = route.good;
  const cases: fc.Arbitrary<unknown>[] = [
    unknown.map((id) =>
      setPath(setPath(good, "context.pluginInstanceId", id), "data.pluginInstance", id),
    ),
    fc
      .constantFrom("otherws", "ws2", TEN_KIB_ID.slice(0, 128))
      .map((w) => setPath(good, "context.workspace", w)),
  ];
  if (route.path === "/run" || route.path === "/tag") {
    cases.push(fc.constant(setPath(good, "context.pluginInstanceId", "other")));
    cases.push(fc.constant(setPath(good, "context", {})));
  } else {
    cases.push(unknown.map((id) => setPath(good, "data.pluginInstance", id)));
    cases.push(
      fc
        .constant(setPath(good, "context", {}))
        .map((b) => setPath(b, "data.pluginInstance", "nope")),
    );
  }
  if (route.path === "/train") {
    cases.push(fc.constant({ ...(good as object), isStatusCheck: true }));
    cases.push(
      fc.stringMatching(/^[a-z0-9-]{1,40}$/).map((taskId) => ({
        ...(good as object),
        isStatusCheck: true,
        status: { taskId, state: "running" },
      })),
    );
    cases.push(
      badId.map((taskId) => ({
        ...(good as object),
        isStatusCheck: true,
        status: { taskId, state: "running" },
      })),
    );
  }
  return fc.oneof(...cases);
}

/** Hostile requests to GET /health: junk queries and headers, wrong methods, odd paths. */
function healthRequests(): fc.Arbitrary<SentRequest & { expectOk: boolean | "either" }> {
  const query = fc
    .array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 200 })), { maxLength: 5 })
    .map((pairs) => new URLSearchParams(pairs).toString());
  return fc.oneof(
    fc
      .tuple(
        query,
        fc.dictionary(
          fc.stringMatching(/^x-[a-z]{1,10}$/),
          fc
            .string({ unit: "grapheme-ascii", maxLength: 100 })
            .map((s) => s.replace(/[\r\n]/g, "")),
        ),
      )
      .map(([q, headers]) => ({
        method: "GET",
        path: `/health${q ? `?${q}` : ""}`,
        headers,
        expectOk: true,
      })),
    fc
      .tuple(fc.constantFrom("POST", "PUT", "DELETE", "PATCH"), fc.option(anyJson))
      .map(([method, body]) => ({
        method,
        path: "/health",
        body: body === null ? undefined : JSON.stringify(body),
        expectOk: false,
      })),
    fc
      .constantFrom(
        "/health/",
        "/health/../run",
        "//health",
        "/health%00",
        "/%2e%2e/health",
        "/Health",
        "/health.json",
        "/run/../../etc/passwd",
        "/instances/..%2f..%2fx",
        `/${"a".repeat(4000)}`,
      )
      // URL normalization may turn some into /health itself (`/%2e%2e/health` is `/health`).
      .map((path) => ({ method: "GET", path, expectOk: "either" as const })),
  );
}

function checkAnswer(answer: Answer, label: string): void {
  expect(answer.text, `${label}: no stack trace`).not.toMatch(
    /at \/|\n\s+at |node_modules|\.ts:\d+/,
  );
  expect(answer.status, `${label}: ${answer.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${label}: ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  const body = JSON.parse(answer.text) as { error?: { code?: string; message?: string } };
  expect(typeof body.error?.code, label).toBe("string");
  expect(body.error?.message, label).toMatch(/\S/);
}

async function serverStillServes(): Promise<void> {
  const health = await send(served.url, { method: "GET", path: "/health" });
  expect(health.status).toBe(200);
  const tagged = await send(served.url, {
    method: "POST",
    path: "/tag",
    body: JSON.stringify(GOOD_RUN),
  });
  expect(tagged.status, tagged.text).toBe(200);
  const data = JSON.parse(tagged.text).data;
  expect(data.file.blocks[0].tags).toEqual([{ kind: "word", name: "spam" }]);
}

const describeRequest = (r: SentRequest) =>
  `${r.method} ${r.path.slice(0, 80)} ${r.chunked ? "(chunked) " : ""}${String(r.body ?? "").slice(0, 200)}${String(r.body ?? "").length > 200 ? `… (${String(r.body).length} bytes)` : ""}`;

describe("hostile HTTP requests", () => {
  for (const [index, route] of ROUTES.entries()) {
    it(`${route.name}: ${CASES} fuzzed requests`, async () => {
      const perBatch = Math.ceil(CASES / BATCHES);
      const statuses = new Map<number, number>();
      let ran = 0;
      let outcome = "";
      let passed = false;
      try {
        for (let batch = 0; batch < BATCHES; batch++) {
          if (route.method === "GET") {
            await fc.assert(
              fc.asyncProperty(healthRequests(), async (request) => {
                const answer = await send(served.url, request);
                ran++;
                statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
                const label = describeRequest(request);
                if (
                  request.expectOk === true ||
                  (request.expectOk === "either" && answer.status === 200)
                ) {
                  expect(answer.status, label).toBe(200);
                  expect(JSON.parse(answer.text).status).toBe("ok");
                } else {
                  checkAnswer(answer, label);
                }
              }),
              { numRuns: perBatch, seed: SEED + index * 100 + batch, endOnFailure: true },
            );
          } else {
            await fc.assert(
              fc.asyncProperty(invalidBodies(route), async (request) => {
                const answer = await send(served.url, request);
                ran++;
                statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
                checkAnswer(answer, describeRequest(request));
              }),
              { numRuns: perBatch, seed: SEED + index * 100 + batch, endOnFailure: true },
            );
          }
          await serverStillServes();
          expect(serverErrors, "unexpected errors logged by the server").toEqual([]);
          expect(await snapshotTree(storeDir), "the store's files did not change").toEqual(
            snapshot,
          );
        }
        const spread = [...statuses.entries()]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(", ");
        outcome = `every answer ${route.method === "GET" ? "200 (GET /health) or " : ""}4xx with a JSON error, no stack (${spread}); server served a good request after each of ${BATCHES} batches; store unchanged`;
        passed = true;
      } catch (error) {
        outcome = `failed after ${ran} requests: ${(error as Error).message.slice(0, 400)}`;
        throw error;
      } finally {
        recordCase({
          id: route.caseId,
          method: `fast-check (seed ${SEED + index * 100}), ${BATCHES} batches, servePlugin on a real socket with a file: store; good request + store snapshot after each batch`,
          backend: "http",
          trials: ran,
          outcome,
          passed,
        });
      }
    });
  }
});
