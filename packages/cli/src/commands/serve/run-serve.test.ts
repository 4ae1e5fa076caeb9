import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { CliContext } from "../../context.js";
import type { CliIo } from "../../io.js";
import { runServe, type ServeFlags } from "./run-serve.js";

const PLUGIN = fileURLToPath(
  new URL("../../../test/__fixtures__/echo-plugin.mjs", import.meta.url),
);
const TOKEN = "run-serve-test-token-0123456789abcdef";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A `CliContext` on a temp dir (file store, data dir inside), its output collected. */
async function context(options: { json?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const root = await mkdtemp(join(tmpdir(), "cli-run-serve-"));
  const output = { stdout: "", stderr: "" };
  const stdout = new PassThrough();
  stdout.on("data", (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  const stderr = new PassThrough();
  stderr.on("data", (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: options.env ?? {}, cwd: root };
  const c = new CliContext(io, {
    remote: pathToFileURL(join(root, "store")).href,
    workspace: "ws",
    json: options.json ?? true,
    dataDir: join(root, "engine"),
  });
  cleanups.push(async () => {
    await c.close();
    await rm(root, { recursive: true, force: true });
  });
  return { c, root, output };
}

const flags = (more: Partial<ServeFlags> = {}): ServeFlags => ({
  plugin: PLUGIN,
  port: "0",
  host: "127.0.0.1",
  ui: false,
  ...more,
});

/**
 * Starts `runServe` and resolves once it printed where it serves. `stop()` stops it the way
 * Ctrl-C does (the SIGINT listener it added, called directly: no signal is sent to the test
 * process) and resolves when runServe does.
 */
async function serve(ctx: Awaited<ReturnType<typeof context>>, o: ServeFlags) {
  const before = new Set(process.listeners("SIGINT"));
  const running = runServe(ctx.c, o);
  const failed = running.then(() => {
    throw new Error("runServe ended before printing its URL");
  });
  await Promise.race([
    failed,
    expect.poll(() => ctx.output.stdout.includes("}"), { timeout: 30_000 }).toBe(true),
  ]);
  const printed = JSON.parse(ctx.output.stdout) as Record<string, unknown> & { url: string };
  const stopper = process.listeners("SIGINT").find((listener) => !before.has(listener));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    stopper?.("SIGINT");
    await running;
  };
  cleanups.push(stop);
  return { printed, stop, url: printed.url };
}

/** What the tests read of an answer: `/train`'s status, `/tag`'s tags. */
interface Answer {
  status?: { output?: unknown };
  data?: { file?: { blocks: Array<{ tags: unknown }> } };
}

async function post(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

const trainBody = {
  data: { pluginInstance: "tagger", trainingParams: { word: "cat" } },
  context: { pluginInstanceId: "tagger" },
  save: { handle: "served" },
};
const runBody = {
  data: { file: { blocks: [{ text: "a cat" }] } },
  context: { pluginInstanceId: "tagger" },
};

describe("runServe", () => {
  it("serves the plugin on loopback without a token, prints where, and stops on Ctrl-C", async () => {
    const ctx = await context();
    const served = await serve(ctx, flags({ instance: "tagger" as ServeFlags["instance"] }));
    expect(served.printed).toEqual({
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      plugin: "echo-plugin",
      token: false,
      publicRun: true,
    });
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    const trained = await post(`${served.url}/train`, trainBody);
    expect(trained.status).toBe(200);
    expect(trained.body.status?.output).toMatchObject({ handle: "served" });
    // The training saved into the context's store.
    const store = await ctx.c.store();
    const ref = await store.resolve({ pluginInstanceId: "tagger", handle: "served" });
    expect(ref.metadata.trainingResults).toMatchObject({ accuracy: 0.53 });
    await served.stop();
    await expect(fetch(`${served.url}/health`)).rejects.toThrow();
    expect(ctx.output.stderr).not.toContain("warning");
  });

  it("--instance with --config creates the instance with that config before serving", async () => {
    const ctx = await context();
    const served = await serve(
      ctx,
      flags({ instance: "tagger" as ServeFlags["instance"], config: '{"kind":"animal"}' }),
    );
    expect((await post(`${served.url}/train`, trainBody)).status).toBe(200);
    const tagged = await post(`${served.url}/tag`, runBody);
    expect(tagged.status).toBe(200);
    expect(tagged.body.data?.file?.blocks[0]?.tags).toEqual([{ kind: "animal", name: "cat" }]);
  });

  it("--config from a file, relative to the working directory", async () => {
    const ctx = await context();
    await writeFile(join(ctx.root, "config.json"), '{"kind":"from-file"}');
    const served = await serve(
      ctx,
      flags({ instance: "tagger" as ServeFlags["instance"], config: "config.json" }),
    );
    await post(`${served.url}/train`, trainBody);
    const tagged = await post(`${served.url}/tag`, runBody);
    expect(tagged.body.data?.file?.blocks[0]?.tags).toEqual([{ kind: "from-file", name: "cat" }]);
  });

  it("with --token every route but /health needs it; --public-run lets /run through", async () => {
    const ctx = await context();
    const served = await serve(
      ctx,
      flags({ instance: "tagger" as ServeFlags["instance"], token: [TOKEN], publicRun: true }),
    );
    expect(served.printed).toMatchObject({ token: true, publicRun: true });
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    expect((await post(`${served.url}/train`, trainBody)).status).toBe(401);
    expect((await post(`${served.url}/train`, trainBody, `${TOKEN}x`)).status).toBe(401);
    expect((await post(`${served.url}/train`, trainBody, TOKEN)).status).toBe(200);
    // Public inference: POST /run without the token.
    const run = await post(`${served.url}/run`, runBody);
    expect(run.status).toBe(200);
    expect(ctx.output.stdout).not.toContain(TOKEN);
  });

  it("takes the tokens from TRAINABLE_TOKEN when no --token is given", async () => {
    const ctx = await context({ env: { TRAINABLE_TOKEN: `a-${TOKEN}, b-${TOKEN}` } });
    const served = await serve(ctx, flags({ instance: "tagger" as ServeFlags["instance"] }));
    expect(served.printed).toMatchObject({ token: true, publicRun: false });
    const params = { data: { pluginInstance: "tagger" }, context: { pluginInstanceId: "tagger" } };
    expect((await post(`${served.url}/getTrainingParameters`, params)).status).toBe(401);
    expect((await post(`${served.url}/getTrainingParameters`, params, `b-${TOKEN}`)).status).toBe(
      200,
    );
  });

  it("mounts the dashboard at /ui/ and prints its address", async () => {
    const ctx = await context();
    const served = await serve(ctx, flags({ ui: true }));
    expect(served.printed.dashboard).toBe(`${served.url}/ui/`);
    const page = await fetch(`${served.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const redirect = await fetch(`${served.url}/ui`, { redirect: "manual" });
    expect(redirect.status).toBe(308);
  });

  it("--insecure serves off loopback without a token, with a warning", async () => {
    const ctx = await context();
    const served = await serve(ctx, flags({ host: "0.0.0.0", insecure: true }));
    expect(served.printed).toMatchObject({ token: false });
    expect(ctx.output.stderr).toMatch(/warning: serving on 0\.0\.0\.0 without a token/);
  });

  it("refuses bad flags before opening or creating anything", async () => {
    const ctx = await context();
    const engineDir = join(ctx.root, "engine");
    await expect(runServe(ctx.c, flags({ host: "0.0.0.0" }))).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "--token" }],
    });
    await expect(runServe(ctx.c, flags({ port: "70000" }))).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "--port" }],
    });
    await expect(runServe(ctx.c, flags({ token: [" "] }))).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "--token" }],
    });
    const empty = await context({ env: { TRAINABLE_TOKEN: "" } });
    await expect(runServe(empty.c, flags())).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "TRAINABLE_TOKEN" }],
    });
    expect(existsSync(engineDir)).toBe(false);
    expect(existsSync(join(ctx.root, "store"))).toBe(false);
  });

  it("refuses a bad --config naming the flag, and serves nothing", async () => {
    const ctx = await context();
    const before = process.listeners("SIGINT").length;
    await expect(
      runServe(
        ctx.c,
        flags({ instance: "tagger" as ServeFlags["instance"], config: '{"kind":42}' }),
      ),
    ).rejects.toMatchObject({
      code: "VALIDATION",
      message: expect.stringContaining("--config"),
    });
    expect(ctx.output.stdout).toBe("");
    expect(process.listeners("SIGINT")).toHaveLength(before);
  });
});
