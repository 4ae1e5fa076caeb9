// Runs a command and measures its wall time and peak RSS (of the largest process it started),
// through a tiny python3 wrapper (getrusage(RUSAGE_CHILDREN)), the same way for our cases and
// for the baselines (GNU tar, cp, Python's shutil).
import { spawnSync } from "node:child_process";

const WRAPPER = `
import resource, subprocess, sys, time, json
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
dt = time.perf_counter() - t
out = p.stdout.decode("utf8", "replace")
print(json.dumps({"code": p.returncode, "seconds": dt, "maxRssKiB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "stdout": out}))
`;

/** Runs `cmd args…`; returns { seconds, maxRssMiB, json? (last JSON line the command printed) }. */
export function measure(cmd, args = [], options = {}) {
  const r = spawnSync("python3", ["-c", WRAPPER, cmd, ...args], {
    encoding: "utf8",
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`measure wrapper failed for ${cmd}: ${r.stderr ?? ""}`);
  const res = JSON.parse(r.stdout.trim().split("\n").at(-1));
  if (res.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${res.code}\n${res.stdout}`);
  const lines = res.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  return {
    seconds: res.seconds,
    maxRssMiB: res.maxRssKiB / 1024,
    json: lines.length ? JSON.parse(lines.at(-1)) : undefined,
  };
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

/** Runs `fn` `runs` times (after `setup` each time) and summarizes seconds and RSS. */
export function repeat(runs, fn, setup) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    setup?.(i);
    samples.push(fn(i));
  }
  const secs = samples.map((s) => s.seconds);
  return {
    median: median(secs),
    min: Math.min(...secs),
    max: Math.max(...secs),
    runs,
    maxRssMiB: Math.max(...samples.map((s) => s.maxRssMiB)),
    samples,
  };
}
