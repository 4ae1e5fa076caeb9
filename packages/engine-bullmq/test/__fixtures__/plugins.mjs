// Test plugins in plain JavaScript, so worker child processes (plain `node`) import them too.
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TrainableModel, TrainingError } from "@trainable/core";
import { TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { z } from "zod";

export const CountingConfig = z.object({
  /** Where train starts and saves are counted (one line per event, `{event} {taskId}`). */
  countDir: z.string(),
});

/**
 * A model trained synchronously in `epochs` × `epochMs`, posting progress each epoch. It
 * counts its train starts and saves (saveToFolder is called once per save) in `countDir`.
 */
export class CountingModel extends TrainableModel {
  keywords = [];

  async saveToFolder(dir) {
    await writeFile(join(dir, "model.json"), JSON.stringify({ keywords: this.keywords }));
    await count(this.config.countDir, "save", this.taskId ?? "?");
    // Holds the save between its folder and the store's writes (a test freezes the worker).
    if (this.saveDelayMs) await sleep(this.saveDelayMs);
  }

  async saveRemote(options) {
    try {
      return await super.saveRemote(options);
    } finally {
      await count(this.config.countDir, "save-ended", this.taskId ?? "?");
    }
  }

  async loadFromFolder(dir) {
    this.keywords = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).keywords;
  }

  async train(request, context) {
    const params = request.data?.trainingParams ?? {};
    this.taskId = request.status?.taskId;
    this.saveDelayMs = params.saveDelayMs;
    await count(this.config.countDir, "start", this.taskId ?? "?");
    if (params.fail) throw new TrainingError(`[test] ${params.fail}`);
    const epochs = request.data?.trainingEpochs ?? 1;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (context.signal.aborted) throw context.signal.reason;
      context.postUpdate({ trainingProgress: { epoch, of: epochs } });
      if (params.epochMs) await sleep(params.epochMs, context.signal);
    }
    this.keywords = [...(params.keywords ?? [])];
    return {
      data: { trainingResults: { keywordCount: this.keywords.length, epochs } },
      status: { state: "succeeded" },
    };
  }
}

export class CountingTagger extends TrainableTaggerPluginService {
  configSchema = CountingConfig;
  modelClass = CountingModel;

  async runWithModel(request, model) {
    return {
      file: { ...request.data.file, tags: model.keywords.map((name) => ({ kind: "kw", name })) },
    };
  }
}

/** A model that saves itself through its context's store (the original's style). */
export class SelfSavingModel extends CountingModel {
  async train(request, context) {
    const result = await super.train(request, context);
    const saved = await this.saveRemote({ ...context.checkpoint });
    return { ...result, data: { ...result.data, archivePath: saved.archivePath } };
  }
}

export class SelfSavingTagger extends CountingTagger {
  modelClass = SelfSavingModel;
}

export async function count(dir, event, taskId) {
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, "counts.log"), `${event} ${taskId}\n`);
}

/** Counts of `event` per task id, from `countDir/counts.log`. */
export async function readCounts(dir, event) {
  const text = await readFile(join(dir, "counts.log"), "utf8").catch(() => "");
  const counts = new Map();
  for (const line of text.split("\n")) {
    const [e, taskId] = line.split(" ");
    if (e === event) counts.set(taskId, (counts.get(taskId) ?? 0) + 1);
  }
  return counts;
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
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

export const ExternalConfig = z.object({
  /** The fake external service's state (one file per job). */
  jobsDir: z.string(),
  countDir: z.string(),
});

/**
 * A fake external training service on files: `submit` with an idempotency `token` (the task
 * id) returns the job already submitted under it, so a repeated train call never starts a
 * second job. A job succeeds once `jobMs` passed and it was checked `checksNeeded` times.
 */
export const fakeJobs = {
  async submit(jobsDir, spec) {
    await mkdir(jobsDir, { recursive: true });
    const tokenFile = join(jobsDir, `token-${spec.token}`);
    const existing = await readFile(tokenFile, "utf8").catch(() => undefined);
    if (existing) return existing;
    const jobId = `job-${spec.token}`;
    await writeFile(
      join(jobsDir, `${jobId}.json`),
      JSON.stringify({ keywords: spec.keywords ?? [], finishAt: Date.now() + (spec.jobMs ?? 0) }),
    );
    await writeFile(tokenFile, jobId);
    return jobId;
  },
  async check(jobsDir, jobId) {
    const job = JSON.parse(await readFile(join(jobsDir, `${jobId}.json`), "utf8"));
    const cancelled = await readFile(join(jobsDir, `${jobId}.cancelled`)).then(
      () => true,
      () => false,
    );
    if (cancelled) return { ...job, state: "cancelled" };
    return { ...job, state: Date.now() >= job.finishAt ? "succeeded" : "running" };
  },
  async cancel(jobsDir, jobId) {
    await writeFile(join(jobsDir, `${jobId}.cancelled`), "");
  },
};

/**
 * A model trained by an external job, stateless between calls (the job id travels in
 * `remoteStatusInput`), as a plugin run by several workers must be: a status check on another
 * worker rebuilds it from the recorded status. Counts `submit` calls as "start" and saves.
 */
export class ExternalJobModel extends TrainableModel {
  keywords = [];

  async saveToFolder(dir) {
    await writeFile(join(dir, "model.json"), JSON.stringify({ keywords: this.keywords }));
    if (this.taskId) await count(this.config.countDir, "save", this.taskId);
  }

  async loadFromFolder(dir) {
    this.keywords = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).keywords;
  }

  async train(request) {
    const params = request.data?.trainingParams ?? {};
    const taskId = request.status?.taskId;
    await count(this.config.countDir, "start", taskId);
    const jobId = await fakeJobs.submit(this.config.jobsDir, {
      token: taskId,
      keywords: params.keywords,
      jobMs: params.jobMs,
    });
    return {
      status: {
        state: "running",
        remoteStatusInput: { jobId },
        retryAfterMs: params.retryAfterMs ?? 50,
      },
    };
  }

  async trainStatus(request, context) {
    const jobId = request.status?.remoteStatusInput?.jobId;
    if (!jobId) throw new TrainingError("[test] a status check without remoteStatusInput.jobId");
    this.taskId = request.status?.taskId;
    const job = await fakeJobs.check(this.config.jobsDir, jobId);
    context.postUpdate({ statusMessage: `job ${jobId} ${job.state}` });
    if (job.state === "running") {
      return {
        status: {
          state: "running",
          remoteStatusInput: { jobId },
          retryAfterMs: request.data?.trainingParams?.retryAfterMs ?? 50,
        },
      };
    }
    if (job.state === "cancelled") return { status: { state: "cancelled" } };
    this.keywords = job.keywords;
    return {
      data: { trainingResults: { keywordCount: this.keywords.length } },
      status: { state: "succeeded" },
    };
  }
}

export class ExternalTagger extends TrainableTaggerPluginService {
  configSchema = ExternalConfig;
  modelClass = ExternalJobModel;

  async runWithModel(request, model) {
    return {
      file: { ...request.data.file, tags: model.keywords.map((name) => ({ kind: "kw", name })) },
    };
  }

  async cancelTraining(request, model) {
    // By the recorded job id, else by the task id it was submitted with (its idempotency key).
    const jobsDir = model.config.jobsDir;
    const token = request.status?.taskId;
    const jobId =
      request.status?.remoteStatusInput?.jobId ??
      (token
        ? await readFile(join(jobsDir, `token-${token}`), "utf8").catch(() => undefined)
        : undefined);
    if (jobId) await fakeJobs.cancel(jobsDir, jobId);
  }
}

/** The state of the external job a task submitted ("none" if it never did). */
export async function jobStateOf(jobsDir, taskId) {
  const jobId = await readFile(join(jobsDir, `token-${taskId}`), "utf8").catch(() => undefined);
  return jobId ? (await fakeJobs.check(jobsDir, jobId)).state : "none";
}

/** External jobs ever submitted (distinct), from `jobsDir`. */
export async function countJobs(jobsDir) {
  const { readdir } = await import("node:fs/promises");
  const names = await readdir(jobsDir).catch(() => []);
  return names.filter((name) => /^job-.*\.json$/.test(name)).length;
}
