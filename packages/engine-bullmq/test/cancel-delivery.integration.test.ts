import { afterEach, describe, expect, inject, it } from "vitest";
import { type BullmqWorkerOptions, createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { ExternalTagger, jobStateOf } from "./__fixtures__/plugins.mjs";
import { aclUser, testDirs, testQueue } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/**
 * An engine, and a worker connected as an ACL user of its own (so its pub/sub client can be
 * cut off alone), polling an external job when this resolves.
 */
async function pollingWithOwnUser(
  worker: Partial<BullmqWorkerOptions>,
  retryStrategy?: () => number,
) {
  const user = await aclUser();
  closers.push(() => user.cleanup());
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
  closers.push(() => engine.close());
  engine.registerPlugin("external", new ExternalTagger());
  await engine.createInstance({
    id: "ext",
    plugin: "external",
    config: { countDir: dirs.countDir, jobsDir: dirs.jobsDir },
  });
  const redis = inject("redis");
  const warnings: string[] = [];
  const started = await createBullmqWorker({
    ...queue,
    connection: {
      host: redis.host,
      port: redis.port,
      username: user.name,
      password: user.password,
      ...(retryStrategy ? { retryStrategy } : {}),
    },
    store: await dirs.store(),
    plugins: { external: new ExternalTagger() },
    dataDir: dirs.workerDir(1),
    logger: { warn: (message) => warnings.push(message), error: () => {} },
    ...worker,
  });
  closers.push(() => started.close());
  const run = await engine.startTraining("ext", {
    // Still running when the cancel comes: a cancel that missed it resolves "succeeded".
    trainingParams: { keywords: ["c"], jobMs: 20_000, retryAfterMs: 100 },
  });
  await expect
    .poll(async () => (await engine.getTask(run.taskId))?.phase, { timeout: 10_000 })
    .toBe("polling");
  return { user, dirs, engine, run, warnings };
}

describe("cancel reaches a running job whose worker missed the pub/sub message", () => {
  it("its subscriber cut off (and refused to subscribe again): the periodic flag check cancels it", async () => {
    const { user, dirs, engine, run, warnings } = await pollingWithOwnUser({
      stalledIntervalMs: 1_000,
    });
    // Revoking its channels disconnects its pub/sub client, and its resubscribe is refused.
    await user.restrict("resetchannels");
    await expect
      .poll(() => warnings.some((w) => w.includes("Could not subscribe to cancel requests")))
      .toBe(true);
    const task = await engine.cancel(run.taskId);
    expect(task.state).toBe("cancelled");
    expect(await run.done).toMatchObject({ state: "cancelled" });
    expect(await jobStateOf(dirs.jobsDir, run.taskId)).toBe("cancelled");
  });

  it("its subscriber killed (CLIENT KILL TYPE pubsub): the flags are checked once it subscribed again", async () => {
    // No periodic check within the test (an hour apart), and a slow reconnect: the message
    // is published while the subscriber is away.
    const { user, dirs, engine, run } = await pollingWithOwnUser(
      { stalledIntervalMs: 3_600_000 },
      () => 300,
    );
    const killed = await user.admin.call("CLIENT", "KILL", "TYPE", "pubsub", "USER", user.name);
    expect(killed).toBe(1);
    const task = await engine.cancel(run.taskId);
    expect(task.state).toBe("cancelled");
    expect(await jobStateOf(dirs.jobsDir, run.taskId)).toBe("cancelled");
  });
});
