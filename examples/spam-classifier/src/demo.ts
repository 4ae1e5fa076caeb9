#!/usr/bin/env node
// The one-command demo (`pnpm demo` at the repo root): trains the spam classifier with the
// `trainable` CLI, lists its checkpoints, loads it back through the model cache and classifies
// held-out emails. Everything happens in a fresh temp folder (removed at the end unless
// `--keep` is given). Public APIs only.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createModelCache } from "@trainable/cache";
import { main } from "@trainable/cli";
import { createCheckpointStore } from "@trainable/storage";
import { SpamModel } from "./spam-model.js";
import { splitCorpus } from "./split-corpus.js";
import type { LabeledEmail } from "./types.js";

const { values } = parseArgs({ options: { keep: { type: "boolean", default: false } } });
const started = performance.now();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[22m` : s);
const say = (line = "") => process.stdout.write(`${line}\n`);
const seconds = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)} s`;

const root = await mkdtemp(join(tmpdir(), "trainable-demo-"));
const storeUrl = pathToFileURL(join(root, "store")).href;
const plugin = fileURLToPath(new URL("./plugin.js", import.meta.url));
const globals = ["--remote", storeUrl, "--workspace", "demo", "--data-dir", join(root, "engine")];
const io = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: { ...process.env, TRAINABLE_CACHE_DIR: join(root, "cli-cache") },
  cwd: root,
};

/** Runs one `trainable` command in-process, echoing it first; stops the demo if it fails. */
async function trainable(...args: string[]): Promise<void> {
  const shown = args.map((a) => (a === plugin ? "./dist/plugin.js" : a)).join(" ");
  say(bold(`$ trainable ${shown}`));
  const code = await main([...globals, ...args], io);
  say();
  if (code !== 0) {
    process.stderr.write(`demo: "trainable ${args[0]}" exited with code ${code}\n`);
    process.exit(code);
  }
}

function subjectOf(email: LabeledEmail): string {
  const header = email.text.split(/\r?\n\r?\n/, 1)[0] ?? "";
  const match = /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(header);
  const subject = (match?.[1] ?? "(no subject)").replace(/\s+/g, " ").trim() || "(no subject)";
  return subject.length > 48 ? `${subject.slice(0, 47)}…` : subject;
}

const probability = (p: number) =>
  p > 0.9999 ? "> 0.9999" : p < 0.0001 ? "< 0.0001" : p.toFixed(4);
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

try {
  say(bold("trainable demo: a spam filter trained on the SpamAssassin public corpus"));
  say(`work folder: ${root}`);
  say("(checkpoint store, engine state and caches live there; nothing else is touched)");
  say();

  // 1. Train with the CLI: saves checkpoint v1 and moves `default` to it.
  const trainStart = performance.now();
  await trainable(
    "train",
    "--plugin",
    plugin,
    "--instance",
    "spam",
    "--handle",
    "v1",
    "--holdout",
    "0.2",
    "--seed",
    "42",
  );
  const trainTime = seconds(trainStart);

  // 2. List the checkpoints.
  await trainable("checkpoints", "list", "--instance", "spam");

  // 3. Load `default` back through the model cache, as a server would.
  const store = await createCheckpointStore({ url: storeUrl, workspace: "demo" });
  const cache = createModelCache({ store, diskDir: join(root, "cache") });
  let t = performance.now();
  const model = await SpamModel.loadRemote({ store, pluginInstanceId: "spam", cache });
  const firstLoad = performance.now() - t;
  t = performance.now();
  const again = await SpamModel.loadRemote({ store, pluginInstanceId: "spam", cache });
  const secondLoad = performance.now() - t;
  say(bold('Loaded checkpoint "default" of instance "spam" through the model cache'));
  say(
    `  first load ${firstLoad.toFixed(0)} ms (download, verify, extract, parse); ` +
      `second ${secondLoad.toFixed(1)} ms (${again === model ? "same model from memory" : "reloaded"})`,
  );
  say(`  vocabulary: ${model.classifier!.vocabulary.length.toLocaleString("en-US")} tokens`);
  say();

  // 4. Classify a few emails from the same holdout the training scored itself on.
  const metrics = model.metrics!;
  const { test, total } = await splitCorpus({ holdout: metrics.holdout, seed: metrics.seed });
  const pick = (group: string, n: number) => test.filter((e) => e.group === group).slice(0, n);
  const emails = [
    ...pick("spam-2", 2),
    ...pick("easy-ham-1", 1),
    ...pick("hard-ham-1", 1),
    ...pick("spam-1", 1),
  ];
  say(bold(`Classifying ${emails.length} held-out emails (never seen in training)`));
  const rows = [["SUBJECT", "TRUE", "PREDICTED", "P(spam)", ""]];
  for (const email of emails) {
    const prediction = model.predict(email.text);
    rows.push([
      subjectOf(email),
      email.label,
      prediction.label,
      probability(prediction.spamProbability),
      prediction.label === email.label ? "ok" : "WRONG",
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  for (const row of rows) {
    const cells = row.map((cell, i) => cell + " ".repeat(widths[i]! - [...cell].length));
    say(`  ${cells.join("  ").trimEnd()}`);
  }
  say();

  // 5. The holdout metrics recorded in the checkpoint's metrics.json.
  const evaluation = metrics.evaluation!;
  const c = evaluation.confusion;
  say(
    bold(
      `Holdout metrics (${metrics.testExamples} of ${total} emails, ${metrics.holdout * 100} % held out, seed ${metrics.seed})`,
    ),
  );
  say(
    `  accuracy ${pct(evaluation.accuracy)}   precision ${pct(evaluation.precision)}   ` +
      `recall ${pct(evaluation.recall)}   F1 ${evaluation.f1.toFixed(4)}`,
  );
  say(
    `  confusion (spam = positive): TP ${c.truePositive}  FP ${c.falsePositive}  TN ${c.trueNegative}  FN ${c.falseNegative}`,
  );
  say(
    `  errors by group: ${Object.entries(evaluation.groups)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([group, g]) => `${group} ${g.errors}/${g.total}`)
      .join(", ")}`,
  );
  say();
  await cache.close();
  await store.close();
  say(`Done in ${seconds(started)} (training ${trainTime}).`);
  if (values.keep) say(`Kept ${root}; try: trainable --remote ${storeUrl} --workspace demo …`);
} finally {
  if (!values.keep) await rm(root, { recursive: true, force: true });
}
