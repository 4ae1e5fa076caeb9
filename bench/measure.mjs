// Runs commands and measures their wall time and peak RSS (of the largest process they started),
// through a tiny python3 wrapper (perf_counter around each command, getrusage(RUSAGE_CHILDREN)
// for the RSS), the same way for our cases and for the baselines (GNU tar, sync, the raw SDK).
import { spawnSync } from "node:child_process";

// argv[1]: a JSON list of commands (argv lists), run one after the other; stops at the first
// that fails. Each command's wall time is measured on its own (perf_counter right before the
// fork and right after the wait), so a sample "tar, then sync -f" yields both times.
const WRAPPER = `
import resource, subprocess, sys, time, json
steps = []
for argv in json.loads(sys.argv[1]):
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE)
    dt = time.perf_counter() - t
    steps.append({"code": p.returncode, "seconds": dt, "stdout": p.stdout.decode("utf8", "replace")})
    if p.returncode != 0:
        break
print(json.dumps({"steps": steps, "maxRssKiB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
`;

function lastJson(stdout) {
  const lines = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  return lines.length ? JSON.parse(lines.at(-1)) : undefined;
}

/**
 * Runs `commands` (a list of [cmd, ...args]) one after the other in fresh processes. Returns
 * { steps: [{ seconds, json? }], seconds (sum), maxRssMiB }: `seconds` of a step is the wall
 * clock of that process (fork to exit), `json` the last JSON line it printed.
 */
export function measureSteps(commands, options = {}) {
  const r = spawnSync("python3", ["-c", WRAPPER, JSON.stringify(commands)], {
    encoding: "utf8",
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`measure wrapper failed: ${r.stderr ?? ""}`);
  const res = JSON.parse(r.stdout.trim().split("\n").at(-1));
  const failed = res.steps.find((s) => s.code !== 0);
  if (failed) {
    const i = res.steps.indexOf(failed);
    throw new Error(`${commands[i].join(" ")} exited ${failed.code}\n${failed.stdout}`);
  }
  const steps = res.steps.map((s) => ({ seconds: s.seconds, json: lastJson(s.stdout) }));
  return {
    steps,
    seconds: steps.reduce((a, s) => a + s.seconds, 0),
    maxRssMiB: res.maxRssKiB / 1024,
  };
}

/** Runs `cmd args…` once; returns { seconds (process wall clock), maxRssMiB, json? }. */
export function measure(cmd, args = [], options = {}) {
  const r = measureSteps([[cmd, ...args]], options);
  return { seconds: r.seconds, maxRssMiB: r.maxRssMiB, json: r.steps[0].json };
}

export function bash(script, options) {
  return measure("bash", ["-c", script], options);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Summary of samples ({ seconds, maxRssMiB, … }): median/min/max seconds and peak RSS. */
export function summarize(samples) {
  const secs = samples.map((s) => s.seconds);
  return {
    median: median(secs),
    min: Math.min(...secs),
    max: Math.max(...secs),
    runs: samples.length,
    maxRssMiB: Math.max(...samples.map((s) => s.maxRssMiB)),
  };
}

/** Runs `fn` `runs` times (after `setup` each time) and summarizes seconds and RSS. */
export function repeat(runs, fn, setup) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    setup?.(i);
    samples.push(fn(i));
  }
  return { ...summarize(samples), samples };
}
