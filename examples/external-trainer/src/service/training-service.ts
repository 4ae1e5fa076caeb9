import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { features, LinearTextModel } from "./linear-text-model.js";

/**
 * A stand-alone external training service, like a hosted AutoML or fine-tuning API, with its
 * own HTTP API and its own storage. Jobs really train (logistic regression by SGD, one epoch
 * per `stepMs` tick) and move queued → running → succeeded | failed | cancelled. Jobs and
 * models are persisted in `dataDir`, so the service can restart too.
 *
 *   GET  /health
 *   POST /jobs                 { examples: [{ text, label }], epochs?, learningRate?, clientToken? } → 202 job
 *                              (200 and the same job when clientToken was seen before)
 *   GET  /jobs/:id             → job (state, epoch, loss, modelId when done)
 *   POST /jobs/:id/cancel      → job
 *   POST /models/:id/predict   { texts: string[] } → { predictions: [{ label, score }] }
 */
const SubmitJob = z.object({
  examples: z
    .array(z.object({ text: z.string().max(1_000_000), label: z.string().min(1).max(64) }))
    .min(2)
    .max(100_000),
  epochs: z.number().int().min(1).max(100).default(5),
  learningRate: z.number().positive().max(10).default(0.1),
  /**
   * An idempotency key: a second submission with the same key returns the job of the first
   * instead of starting another (a client that lost the answer submits again safely).
   */
  clientToken: z.string().min(1).max(256).optional(),
});

const JobState = z.enum(["queued", "running", "succeeded", "failed", "cancelled"]);
export interface Job {
  jobId: string;
  state: z.infer<typeof JobState>;
  epoch: number;
  epochs: number;
  loss?: number;
  modelId?: string;
  error?: string;
  createdAt: string;
  updatedAt: string;
}

interface JobRecord extends Job {
  request: z.infer<typeof SubmitJob>;
}

export interface TrainingServiceOptions {
  dataDir: string;
  /** Time one epoch takes, on top of the compute. Default 200 ms. */
  stepMs?: number;
  /** Time a job waits in the queue before it starts. Default = stepMs. */
  queueMs?: number;
}

function writeJson(path: string, value: unknown) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, path);
}

export function createTrainingService(options: TrainingServiceOptions) {
  const stepMs = options.stepMs ?? 200;
  const queueMs = options.queueMs ?? stepMs;
  const jobsDir = join(options.dataDir, "jobs");
  const modelsDir = join(options.dataDir, "models");
  mkdirSync(jobsDir, { recursive: true });
  mkdirSync(modelsDir, { recursive: true });
  const jobs = new Map<string, JobRecord>();
  const models = new Map<string, LinearTextModel>();
  const timers = new Set<NodeJS.Timeout>();

  const save = (job: JobRecord) => {
    job.updatedAt = new Date().toISOString();
    writeJson(join(jobsDir, `${job.jobId}.json`), job);
  };
  const view = ({ request: _request, ...job }: JobRecord): Job => job;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  function run(job: JobRecord) {
    // A job cancelled while it waited in the queue never starts.
    if (job.state !== "queued") return;
    const labels = [...new Set(job.request.examples.map((e) => e.label))].sort();
    if (labels.length !== 2) {
      job.state = "failed";
      job.error = `need exactly 2 labels, got ${labels.length}`;
      save(job);
      return;
    }
    const model = new LinearTextModel([labels[0]!, labels[1]!]);
    const data = job.request.examples.map((e) => ({
      feats: features(e.text),
      y: (e.label === labels[1] ? 1 : 0) as 0 | 1,
    }));
    job.state = "running";
    save(job);
    const step = () => {
      if (job.state !== "running") return;
      job.loss = model.epoch(data, job.request.learningRate);
      job.epoch++;
      if (job.epoch >= job.epochs) {
        const modelId = `model-${job.jobId}`;
        writeJson(join(modelsDir, `${modelId}.json`), model.toState());
        models.set(modelId, model);
        job.modelId = modelId;
        job.state = "succeeded";
        save(job);
        return;
      }
      save(job);
      later(stepMs, step);
    };
    later(stepMs, step);
  }

  // Restart: unfinished jobs start over (their data is persisted with them).
  for (const file of readdirSync(jobsDir).filter((f) => f.endsWith(".json"))) {
    const job = JSON.parse(readFileSync(join(jobsDir, file), "utf8")) as JobRecord;
    jobs.set(job.jobId, job);
    if (job.state === "queued" || job.state === "running") {
      job.state = "queued";
      job.epoch = 0;
      later(queueMs, () => run(job));
    }
  }

  function loadModel(modelId: string): LinearTextModel | undefined {
    if (!/^model-[a-f0-9-]{36}$/.test(modelId)) return undefined;
    let model = models.get(modelId);
    if (!model) {
      try {
        model = LinearTextModel.fromState(
          JSON.parse(readFileSync(join(modelsDir, `${modelId}.json`), "utf8")),
        );
        models.set(modelId, model);
      } catch {
        return undefined;
      }
    }
    return model;
  }

  const app = new Hono();
  app.use(
    bodyLimit({
      maxSize: 64 * 1024 * 1024,
      onError: (c) => c.json({ error: "body too large" }, 413),
    }),
  );
  app.get("/health", (c) => c.json({ ok: true, jobs: jobs.size }));
  app.post("/jobs", async (c) => {
    const parsed = SubmitJob.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success)
      return c.json(
        { error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") },
        400,
      );
    const token = parsed.data.clientToken;
    const known =
      token === undefined
        ? undefined
        : [...jobs.values()].find((j) => j.request.clientToken === token);
    if (known) return c.json(view(known), 200);
    const now = new Date().toISOString();
    const job: JobRecord = {
      jobId: randomUUID(),
      state: "queued",
      epoch: 0,
      epochs: parsed.data.epochs,
      createdAt: now,
      updatedAt: now,
      request: parsed.data,
    };
    jobs.set(job.jobId, job);
    save(job);
    later(queueMs, () => run(job));
    return c.json(view(job), 202);
  });
  app.get("/jobs/:id", (c) => {
    const job = jobs.get(c.req.param("id"));
    return job ? c.json(view(job)) : c.json({ error: "no such job" }, 404);
  });
  app.post("/jobs/:id/cancel", (c) => {
    const job = jobs.get(c.req.param("id"));
    if (!job) return c.json({ error: "no such job" }, 404);
    if (job.state === "queued" || job.state === "running") {
      job.state = "cancelled";
      save(job);
    }
    return c.json(view(job));
  });
  app.post("/models/:id/predict", async (c) => {
    const model = loadModel(c.req.param("id"));
    if (!model) return c.json({ error: "no such model" }, 404);
    const parsed = z
      .object({ texts: z.array(z.string().max(1_000_000)).min(1).max(10_000) })
      .safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: "body must be { texts: string[] }" }, 400);
    return c.json({ predictions: parsed.data.texts.map((t) => model.predict(t)) });
  });

  return {
    app,
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
