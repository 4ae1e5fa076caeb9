import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createCheckpointStore } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "./__fixtures__/ensure-built.js";
import { fakeJobs } from "./__fixtures__/plugins.mjs";

const child = join(import.meta.dirname, "__fixtures__", "kill-child.mjs");
const serverChild = join(import.meta.dirname, "__fixtures__", "serve-child.mjs");
const TRIALS = process.env.TRAINABLE_RELIABILITY_FULL === "1" ? 20 : 2;

interface PluginServer {
  url: string;
  exited: Promise<string | null>;
  kill(): Promise<void>;
}

/** A plugin server child (ExternalTagger), resolved once it listens. */
function startServer(args: string[]): Promise<PluginServer> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [serverChild, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<string | null>((r) =>
      proc.once("exit", (_code, signal) => r(signal)),
    );
    let out = "";
    let err = "";
    proc.stderr.on("data", (c) => {
      err += c;
    });
    proc.stdout.on("data", (c) => {
      out += c;
      const url = /listening (\S+)/.exec(out)?.[1];
      if (url) {
        resolve({
          url,
          exited,
          kill: async () => {
            proc.kill("SIGKILL");
            await exited;
          },
        });
      }
    });
    proc.once("exit", (code) => reject(new Error(`plugin server exited ${code}: ${err}`)));
  });
}

function runChild(
  args: string[],
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (c) => {
      out += c;
    });
    proc.stderr.on("data", (c) => {
      err += c;
    });
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`child timed out: ${err}`));
    }, 60_000);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

/**
 * Each window: a driver killed there, then a new one resumes. Whatever the window, the
 * training ends succeeded once, with one external job, one save to its handle and one move
 * of `default`, and the checkpoint it records is the one the handle names.
 */
const windows: Array<{ point: string; nth: number; why: string }> = [
  { point: "before-train", nth: 1, why: "train call recorded as outstanding, not sent" },
  {
    point: "after-submit",
    nth: 1,
    why: "the plugin started the external job, nothing recorded yet",
  },
  { point: "after-train", nth: 1, why: "train answered running (model kept), status not recorded" },
  { point: "after-status-check:running", nth: 1, why: "a status check answered, not recorded" },
  { point: "before-status-check", nth: 2, why: "between two status checks" },
  {
    point: "after-status-check:succeeded",
    nth: 1,
    why: "the job succeeded and the model was saved, the result not recorded",
  },
  { point: "before-finish", nth: 1, why: "saved and answered, the final state not written" },
];

describe.each(["in-process", "http"] as const)(
  "kill points (%s): a driver killed at any write-ahead point resumes to exactly one job, one save, one result",
  (mode) => {
    let root: string;
    beforeAll(async () => {
      await ensureBuilt();
      root = await mkdtemp(join(tmpdir(), "trainable-kill-"));
    }, 180_000);
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it.each(windows)(
      `$point ($why), ${TRIALS} trials`,
      async ({ point, nth }) => {
        for (let trial = 0; trial < TRIALS; trial++) {
          const dir = await mkdtemp(join(root, "trial-"));
          const [dataDir, storeDir, jobsDir] = ["engine", "store", "jobs"].map((d) => join(dir, d));
          const storeUrl = pathToFileURL(storeDir!).href;
          // Over HTTP the plugin lives in a server process of its own, which outlives the
          // engine. At "after-submit" the server is the one killed (the plugin kills it right
          // after it started the external job) and started again on its port: the engine, still
          // running, finds a server that lost its memory and repeats its train call.
          const serverKilled = mode === "http" && point === "after-submit";
          let server: PluginServer | undefined;
          const serverDir = join(dir, "server");
          if (mode === "http") {
            server = await startServer([
              storeUrl,
              serverDir,
              "0",
              ...(serverKilled ? ["kill-after-submit"] : []),
            ]);
          }
          const urlArg = server ? [server.url] : [];
          type Finished = { state: string; checkpoint?: { handle?: string; digest?: string } };
          let finished: Finished[];
          try {
            const firstRun = runChild([
              "start",
              dataDir!,
              storeUrl,
              jobsDir!,
              point,
              String(nth),
              ...urlArg,
            ]);
            if (serverKilled) {
              expect(await server!.exited, `trial ${trial}: the server was not killed`).toBe(
                "SIGKILL",
              );
              server = await startServer([storeUrl, serverDir, new URL(server!.url).port]);
              const first = await firstRun;
              expect(first.code, first.err).toBe(0);
              finished = [(JSON.parse(first.out) as { finished: Finished }).finished];
            } else {
              const first = await firstRun;
              expect(
                first.signal,
                `trial ${trial}: the first driver was not killed (${first.out}${first.err})`,
              ).toBe("SIGKILL");
              const second = await runChild([
                "resume",
                dataDir!,
                storeUrl,
                jobsDir!,
                "-",
                "-",
                ...urlArg,
              ]);
              expect(second.code, second.err).toBe(0);
              const resumed = JSON.parse(second.out) as {
                result: { resumed: string[]; interrupted: string[] };
                finished: Finished[];
              };
              expect(resumed.result.interrupted, `trial ${trial}`).toEqual([]);
              finished = resumed.finished;
            }
          } finally {
            await server?.kill();
          }
          expect(
            finished.map((t) => t.state),
            `trial ${trial}: ${JSON.stringify(finished)}`,
          ).toEqual(["succeeded"]);
          expect(await fakeJobs.count(jobsDir!), `trial ${trial}: external jobs started`).toBe(1);
          const versions = async (handle: string) =>
            (await readdir(join(storeDir!, "ws", "ext", "refs", handle)).catch(() => [])).length;
          expect(await versions("h"), `trial ${trial}: saves to the handle`).toBe(1);
          expect(await versions("default"), `trial ${trial}: moves of default`).toBe(1);
          const store = await createCheckpointStore({
            url: storeUrl,
            workspace: "ws",
            fingerprintCache: false,
          });
          const ref = await store.resolve({ pluginInstanceId: "ext", handle: "h" });
          expect(finished[0]?.checkpoint).toMatchObject({ handle: "h", digest: ref.digest });
          await store.close();
        }
      },
      600_000,
    );
  },
);
