/**
 * Shared by the auth tests: a raw HTTP client (any header, any method, keep-alive), a
 * snapshot of a folder tree, and a trainable tagger whose trainings are external jobs found
 * only through `remoteStatusInput` (the original engine's stateless style) and which records
 * every call the server makes into it.
 */
import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import {
  type InvocableResponse,
  type PluginRequest,
  TrainableModel,
  type TrainContext,
  type TrainingParameterPluginInput,
  type TrainingParameterPluginOutput,
  type TrainPluginInput,
  type TrainPluginOutput,
} from "@trainable/core";
import { z } from "zod";
import {
  type PluginRunContext,
  type TaggerInput,
  type TaggerOutput,
  TrainableTaggerPluginService,
} from "../src/index.js";
import { fakeJobs } from "./__fixtures__/plugins.mjs";

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface RawAnswer {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request with exactly the headers given (no client-side normalization of `authorization`). */
export function send(base: string, request: RawRequest): Promise<RawAnswer> {
  const url = new URL(base);
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: {
          ...(body ? { "content-type": "application/json", "content-length": body.length } : {}),
          ...request.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export function closeAgent(): void {
  agent.destroy();
}

/** JSON POST/PUT with a bearer token (or none). */
export async function call(
  base: string,
  method: string,
  path: string,
  body: unknown,
  token?: string,
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON
): Promise<{ status: number; json: any; text: string; headers: http.IncomingHttpHeaders }> {
  const answer = await send(base, {
    method,
    path,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { ...answer, json: answer.text ? JSON.parse(answer.text) : undefined };
}

/** Every file and folder under `root` with its size and SHA-256: equal snapshots, nothing changed. */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const name of names) {
      const abs = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = await lstat(abs);
      if (st.isDirectory()) {
        out[key] = "dir";
        await walk(abs, key);
      } else {
        const sha = createHash("sha256")
          .update(await readFile(abs))
          .digest("hex");
        out[key] = `file ${st.size} ${sha}`;
      }
    }
  }
  await walk(root, "");
  return out;
}

export const JobConfig = z.object({ jobsDir: z.string().min(1) });
export type JobConfig = z.infer<typeof JobConfig>;

/**
 * A model trained by an external job (the fake job service of the fixtures). It keeps no
 * state of its own: status checks and cancels find the job only through
 * `status.remoteStatusInput.jobId` — so a forged `remoteStatusInput` reaching it WOULD act on
 * somebody else's job. Each answer's `remoteStatusInput` also carries the check number, so
 * consecutive answers differ.
 */
export class StatelessJobModel extends TrainableModel<JobConfig> {
  keywords: string[] = [];

  async saveToFolder(dir: string): Promise<void> {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dir, "model.json"), JSON.stringify({ keywords: this.keywords }));
  }

  async loadFromFolder(dir: string): Promise<void> {
    this.keywords = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).keywords;
  }

  override async train(
    request: PluginRequest<TrainPluginInput>,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const params = (request.data?.trainingParams ?? {}) as {
      keywords?: string[];
      checksNeeded?: number;
    };
    const jobId = await fakeJobs.submit(this.config?.jobsDir as string, {
      keywords: params.keywords,
      checksNeeded: params.checksNeeded ?? 3,
    });
    return {
      status: {
        state: "running",
        remoteStatusInput: { jobId, check: 0 },
        retryAfterMs: 10,
      },
    };
  }

  override async trainStatus(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const jobId = String(request.status?.remoteStatusInput?.jobId);
    const job = await fakeJobs.check(this.config?.jobsDir as string, jobId);
    context.postUpdate({ trainingProgress: { checks: job.checks } });
    if (job.state === "running") {
      return {
        status: {
          state: "running",
          remoteStatusInput: { jobId, check: job.checks },
          retryAfterMs: 10,
        },
      };
    }
    if (job.state === "cancelled") return { status: { state: "cancelled" } };
    this.keywords = job.keywords;
    return {
      data: { trainingResults: { checks: job.checks } },
      status: { state: "succeeded" },
    };
  }
}

export interface RecordedCall {
  hook: string;
  taskId?: string;
  remoteStatusInput?: unknown;
}

/** A trainable tagger on {@link StatelessJobModel} that records every call made into it. */
export class RecordingJobTagger extends TrainableTaggerPluginService<JobConfig, StatelessJobModel> {
  configSchema = JobConfig;
  modelClass = StatelessJobModel;
  readonly calls: RecordedCall[] = [];

  private record(hook: string, request?: PluginRequest<unknown>) {
    this.calls.push({
      hook,
      taskId: request?.status?.taskId,
      remoteStatusInput: request?.status?.remoteStatusInput,
    });
  }

  override parseConfig(config: unknown): JobConfig {
    this.record("parseConfig");
    return super.parseConfig(config);
  }

  override async run(
    request: PluginRequest<TaggerInput>,
    context: PluginRunContext<JobConfig>,
  ): Promise<TaggerOutput> {
    this.record("run", request);
    return super.run(request, context);
  }

  override async runWithModel(
    request: PluginRequest<TaggerInput>,
    model: StatelessJobModel,
  ): Promise<TaggerOutput> {
    const file = request.data?.file as TaggerInput["file"];
    return {
      file: {
        ...file,
        blocks: file.blocks.map((block) => ({
          ...block,
          tags: model.keywords
            .filter((k) => block.text.includes(k))
            .map((name) => ({ kind: "keyword", name })),
        })),
      },
    };
  }

  override async getTrainingParameters(
    request: PluginRequest<TrainingParameterPluginInput>,
  ): Promise<TrainingParameterPluginOutput> {
    this.record("getTrainingParameters", request);
    return super.getTrainingParameters(request);
  }

  override async train(
    request: PluginRequest<TrainPluginInput>,
    model: StatelessJobModel,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    this.record("train", request);
    return super.train(request, model, context);
  }

  override async trainStatus(
    request: PluginRequest<TrainPluginInput>,
    model: StatelessJobModel,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    this.record("trainStatus", request);
    return super.trainStatus(request, model, context);
  }

  override async cancelTraining(
    request: PluginRequest<TrainPluginInput>,
    model: StatelessJobModel,
  ): Promise<void> {
    this.record("cancelTraining", request);
    const jobId = request.status?.remoteStatusInput?.jobId;
    if (typeof jobId === "string") await fakeJobs.cancel(model.config?.jobsDir as string, jobId);
  }

  /** Calls made into the plugin by training routes (not config parsing). */
  trainingCalls(): RecordedCall[] {
    return this.calls.filter((c) => c.hook !== "parseConfig");
  }
}
