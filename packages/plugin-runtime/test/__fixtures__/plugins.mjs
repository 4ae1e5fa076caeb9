// Test plugins, in plain JavaScript so the crash-and-restart child process (plain `node`)
// can import them too. In vitest `@trainable/plugin-runtime` resolves to src (see
// vitest.config.ts); in the child process it resolves to the built dist.
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TrainableModel, TrainingError } from "@trainable/core";
import {
  ClassifierPluginService,
  TrainableClassifierPluginService,
  TrainableTaggerPluginService,
} from "@trainable/plugin-runtime";
import { z } from "zod";

/** Tags every occurrence of the learned keywords. */
function tagFile(file, keywords, kind) {
  return {
    ...file,
    blocks: file.blocks.map((block) => {
      const tags = [];
      const text = block.text.toLowerCase();
      for (const keyword of keywords) {
        let from = 0;
        for (;;) {
          const at = text.indexOf(keyword.toLowerCase(), from);
          if (at < 0) break;
          tags.push({ kind, name: keyword, startIdx: at, endIdx: at + keyword.length });
          from = at + keyword.length;
        }
      }
      return { ...block, tags };
    }),
    tags: [{ kind: "model", name: "keywords", value: { count: keywords.length } }],
  };
}

export const KeywordConfig = z.object({
  tagKind: z.string().min(1).default("keyword"),
});

/** A model trained synchronously: it learns `trainingParams.keywords`. */
export class KeywordModel extends TrainableModel {
  keywords = [];

  async saveToFolder(dir) {
    await writeFile(join(dir, "model.json"), JSON.stringify({ keywords: this.keywords }));
  }

  async loadFromFolder(dir) {
    const state = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    this.keywords = state.keywords;
  }

  async train(request, context) {
    const params = request.data?.trainingParams ?? {};
    const epochs = request.data?.trainingEpochs ?? 1;
    if (params.fail) throw new TrainingError(`[test] ${params.fail}`);
    if (params.crash) {
      throw new Error("boom: the model crashed", {
        cause: new Error("secret=hunter2 token=abc123"),
      });
    }
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (context.signal.aborted) throw context.signal.reason;
      context.postUpdate({ trainingProgress: { epoch, of: epochs, fraction: epoch / epochs } });
      if (params.epochMs) await sleep(params.epochMs, context.signal);
    }
    this.keywords = [...(params.keywords ?? [])];
    return {
      data: {
        inferenceParams: request.data?.inferenceParams,
        trainingResults: { keywordCount: this.keywords.length, epochs },
      },
      status: { state: "succeeded" },
    };
  }
}

/** A synchronous trainable tagger (served at `/tag`). */
export class KeywordTagger extends TrainableTaggerPluginService {
  configSchema = KeywordConfig;
  modelClass = KeywordModel;

  async getTrainingParameters(request) {
    const input = request.data;
    // The plugin amends the user's parameters: at least 2 epochs, and a marker.
    return {
      trainingEpochs: Math.max(input.trainingEpochs ?? 0, 2),
      trainingParams: { ...input.trainingParams, amendedBy: "KeywordTagger" },
    };
  }

  async runWithModel(request, model) {
    await maybeSleep(request.data.file.id);
    return { file: tagFile(request.data.file, model.keywords, model.config?.tagKind ?? "keyword") };
  }
}

/** Slow requests for the graceful-shutdown test: a file id `slow-<ms>` waits that long. */
async function maybeSleep(id) {
  const match = /^slow-(\d+)$/.exec(id ?? "");
  if (match) await sleep(Number(match[1]));
}

export const ExternalConfig = z.object({
  /** Where the fake external service keeps its jobs. */
  jobsDir: z.string().min(1),
  tagKind: z.string().min(1).default("keyword"),
});

/**
 * The fake external training service (a test double of e.g. AutoML): jobs are JSON files in
 * `jobsDir`, done once `finishAt` has passed *and* `checksNeeded` status checks were made.
 * It lives on disk so it outlives a killed engine process.
 */
export const fakeJobs = {
  async submit(jobsDir, spec) {
    await mkdir(jobsDir, { recursive: true });
    // An idempotency key (the training's task id): submitting again returns the same job.
    if (spec.token) {
      const existing = await readFile(join(jobsDir, `token-${spec.token}`), "utf8").catch(
        () => undefined,
      );
      if (existing) return existing;
    }
    const jobId = `job-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    await writeJob(jobsDir, jobId, {
      jobId,
      keywords: spec.keywords ?? [],
      finishAt: Date.now() + (spec.jobMs ?? 0),
      checksNeeded: spec.checksNeeded ?? 3,
      checks: 0,
      state: "running",
    });
    if (spec.token) await writeFile(join(jobsDir, `token-${spec.token}`), jobId);
    return jobId;
  },
  /** How many jobs were ever submitted. */
  async count(jobsDir) {
    const names = await readdir(jobsDir).catch(() => []);
    return names.filter((name) => /^job-.*\.json$/.test(name)).length;
  },
  async check(jobsDir, jobId) {
    const job = await fakeJobs.read(jobsDir, jobId);
    if (job.state !== "running") return job;
    job.checks++;
    if (job.checks >= job.checksNeeded && Date.now() >= job.finishAt) job.state = "succeeded";
    await writeJob(jobsDir, jobId, job);
    return job;
  },
  async cancel(jobsDir, jobId) {
    // A marker file of its own, so a status check running at the same time cannot undo it.
    await writeFile(join(jobsDir, `${jobId}.cancelled`), "");
  },
  async read(jobsDir, jobId) {
    const job = JSON.parse(await readFile(join(jobsDir, `${jobId}.json`), "utf8"));
    const cancelled = await readFile(join(jobsDir, `${jobId}.cancelled`)).then(
      () => true,
      () => false,
    );
    if (cancelled) job.state = "cancelled";
    return job;
  },
};

async function writeJob(jobsDir, jobId, job) {
  const tmp = join(jobsDir, `${jobId}.json.${Math.random().toString(36).slice(2)}.tmp`);
  await writeFile(tmp, JSON.stringify(job));
  await rename(tmp, join(jobsDir, `${jobId}.json`));
}

/**
 * A model trained by an external job: `train` submits it and returns `running`; the job id
 * is the model's state (`saveToFolder`), so a status check after a restart must reload it.
 */
export class ExternalJobModel extends TrainableModel {
  jobId = undefined;
  keywords = [];

  async saveToFolder(dir) {
    await writeFile(
      join(dir, "model.json"),
      JSON.stringify({ jobId: this.jobId, keywords: this.keywords }),
    );
  }

  async loadFromFolder(dir) {
    const state = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    this.jobId = state.jobId;
    this.keywords = state.keywords;
  }

  async train(request, context) {
    const params = request.data?.trainingParams ?? {};
    // A slow submission (an upload of training data, say): longer than a request may wait.
    if (params.submitMs) await sleep(params.submitMs, context?.signal);
    this.jobId = await fakeJobs.submit(this.config.jobsDir, {
      keywords: params.keywords,
      jobMs: params.jobMs,
      checksNeeded: params.checksNeeded,
      token: request.status?.taskId,
    });
    // A test kill point: the job started, and the process dies before anything is recorded.
    if (process.env.TRAINABLE_TEST_KILL_AFTER_SUBMIT === "1") process.kill(process.pid, "SIGKILL");
    return {
      status: {
        state: "running",
        statusMessage: `submitted ${this.jobId}`,
        remoteStatusInput: { jobId: this.jobId },
        retryAfterMs: params.retryAfterMs ?? 20,
      },
    };
  }

  async trainStatus(request, context) {
    const jobId = request.status?.remoteStatusInput?.jobId;
    if (!this.jobId || this.jobId !== jobId) {
      throw new TrainingError(`[test] the model lost its state: has ${this.jobId}, asked ${jobId}`);
    }
    const job = await fakeJobs.check(this.config.jobsDir, jobId);
    context.postUpdate({ trainingProgress: { checks: job.checks } });
    if (job.state === "running") {
      return {
        status: {
          state: "running",
          statusMessage: `check ${job.checks}`,
          remoteStatusInput: { jobId },
          retryAfterMs: request.data?.trainingParams?.retryAfterMs ?? 20,
        },
      };
    }
    if (job.state === "cancelled") return { status: { state: "cancelled" } };
    this.keywords = job.keywords;
    return {
      data: { trainingResults: { keywordCount: this.keywords.length, checks: job.checks } },
      status: { state: "succeeded" },
    };
  }
}

/** An asynchronous trainable tagger driving the fake external service. */
export class ExternalTagger extends TrainableTaggerPluginService {
  configSchema = ExternalConfig;
  modelClass = ExternalJobModel;

  async runWithModel(request, model) {
    return { file: tagFile(request.data.file, model.keywords, model.config?.tagKind ?? "keyword") };
  }

  async cancelTraining(request, model) {
    const jobId = request.status?.remoteStatusInput?.jobId ?? model.jobId;
    if (jobId) await fakeJobs.cancel(model.config.jobsDir, jobId);
  }
}

/** A trainable classifier: learns a label per keyword; scores are keyword hit shares. */
export class KeywordClassifier extends TrainableClassifierPluginService {
  configSchema = z.object({}).default({});
  modelClass = KeywordModel;

  async runWithModel(request, model) {
    return {
      results: request.data.texts.map((text) => {
        const hits = model.keywords.map((k) => ({
          label: k,
          score: text.toLowerCase().includes(k.toLowerCase()) ? 1 : 0,
        }));
        hits.sort((a, b) => b.score - a.score);
        return { labels: hits.slice(0, request.data.topK ?? hits.length) };
      }),
    };
  }
}

/** A classifier without a model (for the `/classify` alias). */
export class LengthClassifier extends ClassifierPluginService {
  async run(request) {
    return {
      results: request.data.texts.map((text) => ({
        labels: [{ label: text.length > 10 ? "long" : "short", score: 1 }],
      })),
    };
  }
}

/** Waits `ms`, rejecting when `signal` aborts; the listener goes when the wait ends. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
