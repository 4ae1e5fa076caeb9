// Renders bench/results/latest.json into docs/benchmarks.md, and bench/notes.template.md into
// docs/benchmarks-notes.md. Used by bench/run.mjs (after a run) and bench/check-notes.mjs (to
// check the committed docs against the committed results). Node built-ins only.
//
// Notes template syntax:
//   {{path|format}}       a value of latest.json. `path` is `/`-separated: object keys; in an
//                         array, the element whose id, thread, name or label equals the segment,
//                         or a 0-based index. Virtual fields: a case's `range` (min–max, s), a
//                         target's `result` (PASS / MISS).
//   {{expect:path=value}} renders nothing; a problem unless String(value at path) is `value`
//                         (`!=` for "is not"). Use it to tie prose to the run: "(MISS)".
//   <!-- … -->            a comment for editors of the template; not rendered.
//   format: [*K or /K scale] [decimals, or `,` for a thousands-separated integer] [unit];
//           shortcuts: s (3 s), s2 (2 s), ms (seconds shown in ms), x (2 decimals ×),
//           mib (bytes in MiB), gib (bytes in GiB, 2 decimals), int (`,`), pct (0 %), raw.
//
// Figures in the notes must come from placeholders: outside them (and outside link targets
// and comments) the template may hold no digit except inside a word that starts with a
// letter (sha256, S3, v2, p50). So no bare numbers, no numbered lists, no section numbers.

const SHORTCUTS = {
  s: "3 s",
  s2: "2 s",
  s1: "1 s",
  ms: "*1000 0 ms",
  x: "2 ×",
  mib: "/1048576 0 MiB",
  gib: "/1073741824 2 GiB",
  int: ",",
  pct: "0 %",
};

export function formatValue(value, format) {
  if (format === undefined || format === "raw" || typeof value !== "number") {
    if (typeof value === "boolean") return value ? "yes" : "no";
    return typeof value === "number" ? String(value) : String(value);
  }
  const spec = SHORTCUTS[format] ?? format;
  const m = /^\s*(?:([*/])(\d+(?:\.\d+)?)\s*)?(,|\d+)?\s*(.*)$/.exec(spec);
  if (!m) throw new Error(`bad format "${format}"`);
  let x = value;
  if (m[1] === "*") x *= Number(m[2]);
  if (m[1] === "/") x /= Number(m[2]);
  let text;
  if (m[3] === ",") text = Math.round(x).toLocaleString("en-US");
  else if (m[3] !== undefined) text = x.toFixed(Number(m[3]));
  else text = String(x);
  const unit = m[4];
  if (!unit) return text;
  return /^[×%]/.test(unit) ? `${text}${unit}` : `${text} ${unit}`;
}

function virtual(obj, key) {
  if (key === "range" && typeof obj?.min === "number" && typeof obj?.max === "number") {
    return `${obj.min.toFixed(3)}–${obj.max.toFixed(3)} s`;
  }
  if (key === "result" && typeof obj?.pass === "boolean") return obj.pass ? "PASS" : "MISS";
  return undefined;
}

export function lookup(results, path) {
  let cur = results;
  for (const seg of path.split("/")) {
    if (cur === undefined || cur === null) return undefined;
    if (Array.isArray(cur)) {
      const hit = cur.find(
        (e) => e && (e.id === seg || e.thread === seg || e.name === seg || e.label === seg),
      );
      cur = hit ?? (/^\d+$/.test(seg) ? cur[Number(seg)] : undefined);
    } else if (typeof cur === "object") {
      cur = seg in cur ? cur[seg] : virtual(cur, seg);
    } else {
      return undefined;
    }
  }
  return cur;
}

const PLACEHOLDER = /\{\{([^{}]+)\}\}/g;
const COMMENT = /<!--[\s\S]*?-->\n?/g;

/** Digits of the template outside placeholders, comments and link targets, not in a word. */
export function bareNumbers(template) {
  const problems = [];
  const lines = template
    .replace(COMMENT, (c) => "\n".repeat((c.match(/\n/g) ?? []).length))
    .split("\n");
  lines.forEach((line, i) => {
    const literal = line.replace(PLACEHOLDER, " ").replace(/\]\([^)]*\)/g, "]");
    for (const m of literal.matchAll(/[A-Za-z_][A-Za-z0-9_]*|\d[\d.,]*/g)) {
      if (/^\d/.test(m[0])) {
        problems.push(
          `template line ${i + 1}: bare number "${m[0]}" (figures must come from placeholders): ${line.trim().slice(0, 100)}`,
        );
      }
    }
  });
  return problems;
}

/** Renders the notes template; `problems` lists what makes the notes not match the run. */
export function renderNotes(template, results) {
  const problems = [...bareNumbers(template)];
  const expected = new Set();
  const expand = (_, inner) => {
    const text = inner.trim();
    if (text.startsWith("expect:")) {
      const m = /^expect:([^=!]+?)\s*(!?=)\s*(.*)$/.exec(text);
      if (!m) {
        problems.push(`bad expect "{{${text}}}"`);
        return "";
      }
      const [, path, op, want] = m;
      const target = /^targets\/([^/]+)\//.exec(path);
      if (target) expected.add(target[1]);
      const got = lookup(results, path);
      const value = got === undefined ? undefined : String(got);
      if (value === undefined) problems.push(`{{${text}}}: nothing at ${path}`);
      else if ((op === "=") !== (value === want)) {
        problems.push(`{{${text}}}: ${path} is ${value}`);
      }
      return "";
    }
    const [path, format] = text.split("|").map((s) => s.trim());
    const value = lookup(results, path);
    if (value === undefined || (typeof value === "object" && value !== null)) {
      problems.push(`{{${text}}}: ${value === undefined ? "nothing" : "an object"} at ${path}`);
      return `⟦missing: ${path}⟧`;
    }
    try {
      return formatValue(value, format);
    } catch (error) {
      problems.push(`{{${text}}}: ${error.message}`);
      return `⟦bad format: ${text}⟧`;
    }
  };
  const EXPECTS_ONLY = /^\s*(\{\{\s*expect:[^{}]*\}\}\s*)+$/;
  const body = template
    .replace(COMMENT, "")
    .split("\n")
    // A line holding only expects renders as nothing at all (not as an empty line).
    .flatMap((line) => {
      const out = line.replace(PLACEHOLDER, expand);
      return EXPECTS_ONLY.test(line) ? [] : [out];
    })
    .join("\n");
  // Every missed target must be acknowledged (and so explained) by an expect on it.
  for (const t of results.targets ?? []) {
    if (!t.pass && !expected.has(t.id)) {
      problems.push(
        `target ${t.id} (${t.name}) is a MISS and the notes do not address it: add {{expect:targets/${t.id}/result=MISS}} with its explanation`,
      );
    }
  }
  const header = [
    "<!-- Generated by `pnpm bench` from bench/notes.template.md and bench/results/latest.json;",
    "     edit the template, not this file. `pnpm bench:check` fails when they disagree. -->",
    "",
  ].join("\n");
  return { text: `${header}${body}`, problems };
}

// ---- docs/benchmarks.md ------------------------------------------------------------------------
const s3 = (x) => `${x.toFixed(3)} s`;
const mib = (x) => `${x.toFixed(0)} MiB`;
const int = (x) => Math.round(x).toLocaleString("en-US");
const span = (r) => (r.min === r.max ? int(r.min) : `${int(r.min)}–${int(r.max)}`);

export function renderBenchmarks(r) {
  const c = (id) => r.cases.find((x) => x.id === id);
  const ds = r.datasets;
  const gib = (b) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  const mibB = (b) =>
    b < 1024 ** 2 ? `${(b / 1024).toFixed(0)} KiB` : `${(b / 1024 ** 2).toFixed(0)} MiB`;
  const ratioRows = r.targets.filter((t) => t.kind === "ratio");
  const lines = [
    "# Benchmarks",
    "",
    "Generated by `pnpm bench` (bench/run.mjs) from bench/results/latest.json; do not edit by hand",
    "(`pnpm bench:check` checks it). Analysis of the misses: [benchmarks-notes.md](benchmarks-notes.md).",
    "",
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB RAM, Node ${r.machine.node}, ${r.machine.tar}; ${r.machine.date}. Samples per case: ${r.config.runs}. Whole run: ${r.totalSeconds.toFixed(0)} s.${r.machine.source ? ` Measured: commit ${r.machine.source.commit.slice(0, 10)}${r.machine.source.dirty ? " with uncommitted changes under packages/" : ""}.` : ""}`,
    "",
    "## How it is measured",
    "",
    "- Every sample runs in a fresh process; a case's time is the **median** of its samples, with",
    "  min–max. Every sample of every case is kept in `bench/results/latest.json`.",
    `- **trainable** times are ${r.timing.inProcess}. (The process's own wall clock, Node start-up included, is kept per sample as \`processSeconds\`.)`,
    `- **tar** and **sync** times are the ${r.timing.wall} — a tar process starts in milliseconds, so this is close to the in-process time of the work.`,
    `- **raw SDK** times are ${r.timing.rawInProcess}. Same part size (${int(r.config.s3PartSize / 1024 ** 2)} MiB) and parts in flight (${r.config.s3QueueSize}) as the store's S3 backend defaults, 1 MiB reads.`,
    "- Composite baselines (tar + put, get + tar) are the **sum of the measured times of the same sample**, run one after the other.",
    "- Durable baselines (`… && sync -f`) are the plain sample plus a `sync -f` run right after it, timed on its own: trainable fsyncs what it writes (a save fsyncs the archive, a load fdatasyncs every extracted file and fsyncs the folders), plain tar does not. Target ratios use the plain baselines, as the issue states; the durable ratio is shown beside them as information.",
    "- Page cache: before every sample, outside the timed region, the previous sample's output (store folder, archive, extraction target) is deleted and `sync` writes back everything dirty, so no sample pays for an earlier one's writeback. Source data stays in the page cache for both sides (warm reads; we compare code paths, not the disk). Samples of a case and its baselines alternate (ABAB…, order reversed every other round) so machine noise hits both alike.",
    "- Peak RSS is that of the largest process a sample started (getrusage of the children). Store and raw-SDK processes also sample `process.memoryUsage()` every 50 ms (`memory` per sample, `peakMemory` per case: what the peak was made of).",
    "- Diagnostic rows (trainable with the file backend's fsync off, loads with `durable: false`) are measured in the same rounds for the analysis only; no target uses them.",
    "- For every missed save/load/re-save target, one extra sample of the trainable case runs under `node --cpu-prof`; the profile summary (restricted to the operation's own time window) is in latest.json under `profiles` and below.",
    "- Uploaded bytes are counted at the backend: the store-op process wraps `createBackend(url)` in an object that delegates every method and counts every put request and the bytes of every put body as they flow, by kind of key.",
    "",
    "Data sets:",
    "",
    "| data set | files | folders | bytes | largest file |",
    "|---|---|---|---|---|",
    ...Object.values(ds).map(
      (d) =>
        `| ${d.label} | ${int(d.files)} | ${int(d.directories)} | ${int(d.bytes)} (${d.bytes >= 1024 ** 3 ? gib(d.bytes) : mibB(d.bytes)}) | ${mibB(d.largestFileBytes)} |`,
    ),
    "",
    "## Targets",
    "",
    "Ratio = baseline time / trainable time (medians; three decimals, so a ratio just under its goal does not print as the goal): ≥ 1 means trainable is faster.",
    "",
    "| target | goal | result | ratio | ratio vs durable baseline (info) | ratio of trainable without fsync (diagnostic) | trainable | baseline | durable baseline |",
    "|---|---|---|---|---|---|---|---|---|",
    ...ratioRows.map((t) => {
      const o = c(t.ours);
      const b = c(t.baseline);
      const d = t.durableBaseline ? c(t.durableBaseline) : undefined;
      const diag = t.diagnostic ? `${t.diagnosticRatio.toFixed(3)}×` : "—";
      return `| ${t.name} | ${t.goal} | ${t.pass ? "PASS" : "**MISS**"} | ${t.ratio.toFixed(3)}× | ${d ? `${t.durableRatio.toFixed(3)}×` : "—"} | ${diag} | ${s3(o.median)} | ${s3(b.median)} | ${d ? s3(d.median) : "—"} |`;
    }),
    ...r.targets
      .filter((t) => t.kind === "resave")
      .map(
        (t) =>
          `| ${t.name} | ${t.goal} | ${t.pass ? "PASS" : "**MISS**"} | — | — | — | ${s3(t.seconds)} (A), ${s3(t.smallSeconds)} (A-small, ${t.bytesFactor.toFixed(1)}× fewer bytes): ${t.growth.toFixed(2)}× | — | — |`,
      ),
    ...r.targets
      .filter((t) => t.kind === "bytes")
      .map(
        (t) =>
          `| ${t.name} | ${t.goal} | ${t.pass ? "PASS" : "**MISS**"} | — | — | — | ${int(t.maxBlobBytes)} B of archive + manifest; at most ${int(t.maxPutBytes)} B put in all (pins, ref versions) | — | — |`,
      ),
    ...r.targets
      .filter((t) => t.kind === "rss")
      .map(
        (t) =>
          `| ${t.name} | ${t.goal} | ${t.pass ? "PASS" : "**MISS**"} | — | — | — | ${mib(t.maxRssMiB)} (${t.case}) | — | — |`,
      ),
    "",
    "## Save and load",
    "",
    "| case | implementation | role | median (min–max) | peak RSS | what is timed |",
    "|---|---|---|---|---|---|",
    ...r.cases
      .filter((x) => !/-(resave|setdefault)-/.test(x.id))
      .map(
        (x) =>
          `| ${x.group} on ${x.backend} | ${x.impl} | ${x.role} | ${s3(x.median)} (${x.min.toFixed(3)}–${x.max.toFixed(3)}) | ${mib(x.maxRssMiB)} | ${x.description} |`,
      ),
    "",
    "## Re-save of an unchanged folder, setAsDefault",
    "",
    "Same store, same fingerprint cache, same handle as the save before them; each sample in a fresh process.",
    "",
    "| case | backend | median (min–max) | process wall clock (median) | peak RSS |",
    "|---|---|---|---|---|",
    ...r.cases
      .filter((x) => /-(resave|setdefault)-/.test(x.id))
      .map(
        (x) =>
          `| ${x.group} | ${x.backend} | ${s3(x.median)} (${x.min.toFixed(3)}–${x.max.toFixed(3)}) | ${s3(x.processMedian)} | ${mib(x.maxRssMiB)} |`,
      ),
    "",
    "## Bytes put, counted at the backend",
    "",
    "Per sample (min–max over the samples when they differ). `archive` is the checkpoint's archive size (`ref.size`); the library's own `uploadedBytes` is shown for comparison.",
    "",
    "| case | backend | checkpoint archive | archive bytes put | manifest bytes put | all bytes put | put requests | library's uploadedBytes |",
    "|---|---|---|---|---|---|---|---|",
    ...r.cases
      .filter((x) => x.put)
      .filter((x) => !/-load-/.test(x.id))
      .map(
        (x) =>
          `| ${x.group} (${x.impl}) | ${x.backend} | ${int(x.checkpointArchiveBytes ?? 0)} | ${span(x.put.archiveBytes)} | ${span(x.put.manifestBytes)} | ${span(x.put.bytes)} | ${span(x.put.requests)} | ${x.put.reportedUploadedBytes.min < 0 ? "—" : span(x.put.reportedUploadedBytes)} |`,
      ),
    "",
  ];
  const profiles = Object.values(r.profiles ?? {});
  if (profiles.length) {
    lines.push(
      "## CPU profiles of the missed targets",
      "",
      "One extra sample of the trainable case under `node --cpu-prof` (profiles in bench/.data/profiles, not committed). Per thread: wall time profiled, idle (waiting on I/O, fsync, the network, other threads), GC, and the busiest origins and functions (self time).",
      "",
      "| target | thread | profiled | idle | GC | busiest origins | top functions (self) |",
      "|---|---|---|---|---|---|---|",
      ...profiles.flatMap((p) =>
        p.threads.map(
          (t) =>
            `| ${p.id} | ${t.thread} | ${t.durationMs.toFixed(0)} ms | ${t.idleMs.toFixed(0)} ms (${t.idlePct.toFixed(0)}%) | ${t.gcMs.toFixed(0)} ms | ${t.origins
              .slice(0, 3)
              .map((o) => `${o.name} ${o.ms.toFixed(0)} ms`)
              .join(", ")} | ${t.topSelf
              .slice(0, 4)
              .map((f) => `${f.name} (${f.where}) ${f.ms.toFixed(0)} ms`)
              .join(", ")} |`,
        ),
      ),
      "",
    );
  }
  const extras = r.targets.filter((t) => t.kind === "extra");
  if (r.cache) {
    lines.push(
      "## Cache",
      "",
      "| measure | value |",
      "|---|---|",
      `| memory hit latency (loadRemote through the cache, ${r.cache.memoryHit.n} calls) | p50 ${r.cache.memoryHit.p50us.toFixed(1)} µs, p99 ${r.cache.memoryHit.p99us.toFixed(1)} µs |`,
      `| disk hit, fresh process, checkpoint A (loadFromFolder reads nothing) | ${r.cache.diskHitA.seconds.toFixed(3)} s (loadFromFolder ${r.cache.diskHitA.loadFromFolderSeconds.toFixed(3)} s) |`,
      `| disk hit, fresh process, checkpoint C | ${r.cache.diskHitC.seconds.toFixed(3)} s |`,
      `| 16 concurrent loadRemote of an uncached version | ${r.cache.concurrent.downloads} download, ${r.cache.concurrent.loads} loadFromFolder, ${r.cache.concurrent.distinctInstances} distinct instance |`,
      "",
    );
  }
  if (r.http) {
    // Server CPU per request: measured since the HTTP bench records it (older results lack it).
    const cpu = r.http.plugin.cpuUsPerRequest !== undefined;
    const row = (label, s) =>
      `| ${label} | ${s.rps.toFixed(0)} | ${s.p50ms.toFixed(2)} ms |${cpu ? ` ${s.cpuUsPerRequest.toFixed(1)} µs |` : ""}`;
    lines.push(
      "## HTTP",
      "",
      `| server | requests/s | p50 latency |${cpu ? " server CPU per request |" : ""}`,
      `|---|---|---|${cpu ? "---|" : ""}`,
      row("bare Hono app (same route shape, no model)", r.http.bare),
      row("plugin-runtime /run with a cached model", r.http.plugin),
      ...(r.http.pluginCheckOutput
        ? [
            row(
              "the same, with `checkOutput: true` (every answer checked)",
              r.http.pluginCheckOutput,
            ),
          ]
        : []),
      "",
    );
  }
  if (r.engine) {
    const e = r.engine;
    const base = e.localSequential.perJobMs;
    const row = (name, c) =>
      `| ${name} | ${c.perJobMs.toFixed(1)} ms | ${(e.trainings / c.seconds).toFixed(1)} | ${(c.perJobMs / base).toFixed(2)}× |`;
    lines.push(
      "## Engines",
      "",
      `${e.trainings} trainings per case of a plugin whose training only saves a ${e.modelBytes / 1024} KiB model to a \`file:\` store: the engines' own cost per training (task records, events, the save, the queue's round trips). BullMQ cases run against our own redis-server (AOF on) with worker processes of concurrency 1.`,
      "",
      "| engine | wall time per training | trainings/s | vs local engine, one at a time |",
      "|---|---|---|---|",
      row("local engine, one at a time (baseline)", e.localSequential),
      row("local engine, all started at once", e.localConcurrent),
      row("BullMQ engine, 1 worker, all enqueued at once", e.bullmq1),
      row("BullMQ engine, 3 workers, all enqueued at once", e.bullmq3),
      "",
    );
  }
  if (extras.length) {
    lines.push(
      "## Other targets",
      "",
      "| target | result | measured |",
      "|---|---|---|",
      ...extras.map((t) => `| ${t.name} | ${t.pass ? "PASS" : "**MISS**"} | ${t.detail} |`),
      "",
    );
  }
  return lines.join("\n");
}
