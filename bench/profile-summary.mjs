// Summarizes V8 CPU profiles (`node --cpu-prof`, one file per thread) into what the notes
// quote: per thread, the profiled wall time, idle (waiting on I/O, timers, other threads),
// garbage collection, and where the rest of the time went — by origin (Node internals, our
// packages, the AWS SDK, …), by function (self time), and the inclusive time of our own
// functions. Times in milliseconds. With a window (start and end in µs of the monotonic clock
// the profiles use, = process.hrtime), only the samples inside it count: the operation, not
// Node's start-up and imports.
//   node bench/profile-summary.mjs [--window <startUs> <endUs>] <file.cpuprofile>…
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

const SPECIAL = new Set(["(idle)", "(garbage collector)", "(program)", "(root)"]);

function originOf(url) {
  if (!url) return "native / V8";
  if (url.startsWith("node:")) return "Node internals";
  const pkg = /packages\/([^/]+)\/dist\//.exec(url) ?? /@trainable\/([^/]+)\//.exec(url);
  if (pkg) return `@trainable/${pkg[1]}`;
  if (/@aws-sdk|@smithy/.test(url)) return "AWS SDK";
  // The last node_modules/<package>/ of the path (pnpm nests them under node_modules/.pnpm).
  const mod = [...url.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].at(-1);
  if (mod) return mod[1];
  if (url.startsWith("[worker eval]")) return "worker source (eval)";
  if (/\/bench\//.test(url)) return "bench harness";
  return "other";
}

function threadOf(file) {
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
  const m = /\.(\d+)\.(\d+)\.(\d+)\.cpuprofile$/.exec(file);
  return m && m[2] !== "0" ? `worker ${m[2]}` : "main";
}

export function summarizeProfile(file, window) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const from = window ? Math.max(window.startUs, profile.startTime) : profile.startTime;
  const to = window ? Math.min(window.endUs, profile.endTime) : profile.endTime;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    if (at < from || at > to) continue;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const durationMs = Math.max(0, to - from) / 1000;
  const special = { "(idle)": 0, "(garbage collector)": 0, "(program)": 0 };
  const origins = new Map();
  const functions = new Map();
  const inclusive = new Map();
  for (const [id, ms] of self) {
    const n = byId.get(id);
    const name = n.callFrame.functionName || "(anonymous)";
    if (SPECIAL.has(name)) {
      if (name in special) special[name] += ms;
      continue;
    }
    const origin = originOf(n.callFrame.url);
    origins.set(origin, (origins.get(origin) ?? 0) + ms);
    const where = n.callFrame.url
      ? `${basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
      : "(native)";
    const key = `${name} ${where}`;
    const f = functions.get(key) ?? { name, where, origin, ms: 0 };
    f.ms += ms;
    functions.set(key, f);
    // Inclusive time of our own functions: each distinct one on this sample's stack.
    const seen = new Set();
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const frame = byId.get(p).callFrame;
      const o = originOf(frame.url);
      if (!o.startsWith("@trainable/")) continue;
      const fn = `${frame.functionName || "(anonymous)"} ${basename(frame.url)}:${frame.lineNumber + 1}`;
      if (seen.has(fn)) continue;
      seen.add(fn);
      const row = inclusive.get(fn) ?? {
        name: frame.functionName || "(anonymous)",
        where: `${basename(frame.url)}:${frame.lineNumber + 1}`,
        origin: o,
        ms: 0,
      };
      row.ms += ms;
      inclusive.set(fn, row);
    }
  }
  const busyMs = [...origins.values()].reduce((a, b) => a + b, 0);
  const round = (x) => Math.round(x * 10) / 10;
  const sorted = (rows, n) =>
    [...rows]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n)
      .map((r, i) => ({
        ...r,
        rank: i + 1,
        ms: round(r.ms),
        pct: round((100 * r.ms) / durationMs),
      }));
  return {
    thread: threadOf(file),
    file: basename(file),
    durationMs: round(durationMs),
    idleMs: round(special["(idle)"]),
    gcMs: round(special["(garbage collector)"]),
    programMs: round(special["(program)"]),
    jsMs: round(busyMs),
    idlePct: round((100 * special["(idle)"]) / durationMs),
    gcPct: round((100 * special["(garbage collector)"]) / durationMs),
    programPct: round((100 * special["(program)"]) / durationMs),
    jsPct: round((100 * busyMs) / durationMs),
    origins: sorted(
      [...origins].map(([name, ms]) => ({ name, ms })),
      10,
    ),
    topSelf: sorted(functions.values(), 12),
    ourInclusive: sorted(inclusive.values(), 12),
  };
}

export function summarizeProfiles(files, window) {
  return files
    .map((f) => summarizeProfile(f, window))
    .sort((a, b) =>
      a.thread === "main" ? -1 : b.thread === "main" ? 1 : a.thread.localeCompare(b.thread),
    );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const window =
    args[0] === "--window" ? { startUs: Number(args[1]), endUs: Number(args[2]) } : undefined;
  console.log(JSON.stringify(summarizeProfiles(window ? args.slice(3) : args, window), null, 2));
}
