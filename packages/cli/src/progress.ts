import type { PostUpdate, TransferProgress } from "@trainable/core";
import type { CliIo } from "./io.js";

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** `75s` → `1m15s`; under a minute in seconds, over an hour in hours and minutes. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export interface ProgressOptions {
  /** False with `--json`: nothing is written. */
  enabled: boolean;
  /** Milliseconds clock, for tests. Default `Date.now`. */
  now?: () => number;
  /** Shortest time between two redraws of the bar (TTY). Default 100 ms: at most ~10 a second. */
  minRedrawMs?: number;
  /** Shortest time between two plain lines without a fraction (not a TTY). Default 1 s. */
  minLineMs?: number;
}

/** One phase being reported (`upload`, `download`, `train`, …): when it began and recent samples. */
interface Phase {
  key: string;
  startedAt: number;
  /** Recent (time, amount) samples: the rate is measured over the last few seconds. */
  samples: { t: number; v: number }[];
  lastQuarter: number;
  lastLineAt: number;
  lastLabel: string;
}

const RATE_WINDOW_MS = 5_000;

/**
 * Progress for transfers and training, on stderr. On a TTY: one bar, redrawn at most every
 * `minRedrawMs` (a phase's first and last update — 100 % — are always drawn), with the rate and
 * an ETA. Otherwise: a plain line when a phase starts, at every 25 % and at 100 %, so logs stay
 * readable. A terminal that reports no width (0 columns) gets the whole line, never a cut one.
 * Silent when disabled (`--json`).
 */
export class ProgressReporter {
  private lastLine = "";
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  /** A redraw skipped by the throttle, drawn when the interval has passed (unless superseded). */
  private pending: { line: string; timer: ReturnType<typeof setTimeout> } | undefined;
  private phase: Phase | undefined;
  private readonly tty: boolean;
  private readonly enabled: boolean;
  private readonly now: () => number;
  private readonly minRedrawMs: number;
  private readonly minLineMs: number;

  constructor(
    private readonly io: CliIo,
    options: ProgressOptions | boolean,
  ) {
    const o = typeof options === "boolean" ? { enabled: options } : options;
    this.enabled = o.enabled;
    this.now = o.now ?? Date.now;
    this.minRedrawMs = o.minRedrawMs ?? 100;
    this.minLineMs = o.minLineMs ?? 1_000;
    this.tty = Boolean(io.stderr.isTTY);
  }

  transfer = (p: TransferProgress): void => {
    // An upload's total may be an estimate the bytes pass (a compressed archive is smaller, a
    // long path adds a header): never show more than 100 %.
    const total = p.total !== undefined && p.total > 0 ? Math.max(p.total, p.bytes) : undefined;
    const fraction = total ? p.bytes / total : undefined;
    const phase = this.enter(p.phase);
    const rate = this.sample(phase, p.bytes);
    const parts = [`${p.phase} ${formatBytes(p.bytes)}${total ? ` / ${formatBytes(total)}` : ""}`];
    if (rate !== undefined) {
      parts.push(`${formatBytes(rate)}/s`);
      if (total && fraction !== undefined && fraction < 1 && rate > 0) {
        parts.push(`ETA ${formatDuration(((total - p.bytes) / rate) * 1000)}`);
      }
    }
    this.update(phase, fraction, parts.join("  "));
  };

  /** A training update (`postUpdate` from the plugin): its progress numbers and message. */
  training = (update: PostUpdate): void => {
    const tp = update.output?.trainingProgress ?? {};
    const fraction =
      typeof tp.fraction === "number" && Number.isFinite(tp.fraction)
        ? Math.min(1, Math.max(0, tp.fraction))
        : undefined;
    const detail = Object.entries(tp)
      .filter(([k]) => k !== "fraction")
      .map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toFixed(4)) : String(v)}`);
    if (update.statusMessage) detail.unshift(update.statusMessage);
    const phase = this.enter("train");
    let eta = "";
    if (fraction !== undefined && fraction > 0 && fraction < 1) {
      const elapsed = this.now() - phase.startedAt;
      if (elapsed >= 1_000) eta = `  ETA ${formatDuration((elapsed / fraction) * (1 - fraction))}`;
    }
    this.update(phase, fraction, `train ${detail.join(" ")}`.trim() + eta);
  };

  /** Blobs checked by `checkpoints verify`. */
  verify = (p: { checked: number; total: number; bytes: number }): void => {
    const fraction = p.total > 0 ? p.checked / p.total : undefined;
    const phase = this.enter("verify");
    const rate = this.sample(phase, p.bytes);
    this.update(
      phase,
      fraction,
      `verify ${p.checked}/${p.total} blobs, ${formatBytes(p.bytes)}${rate === undefined ? "" : `  ${formatBytes(rate)}/s`}`,
    );
  };

  message(text: string): void {
    if (!this.enabled) return;
    this.clear();
    this.io.stderr.write(`${text}\n`);
  }

  done(): void {
    this.clear();
  }

  /** The phase `key`, started afresh when another phase ran meanwhile. */
  private enter(key: string): Phase {
    if (this.phase?.key !== key) {
      this.phase = {
        key,
        startedAt: this.now(),
        samples: [],
        lastQuarter: -2,
        lastLineAt: Number.NEGATIVE_INFINITY,
        lastLabel: "",
      };
      this.lastDrawAt = Number.NEGATIVE_INFINITY; // a new phase is drawn at once
    }
    return this.phase;
  }

  /** Records `value` now; the rate per second over the last few seconds, once measurable. */
  private sample(phase: Phase, value: number): number | undefined {
    const t = this.now();
    const samples = phase.samples;
    if (samples.length > 0 && value < (samples.at(-1)?.v ?? 0)) samples.length = 0; // restarted
    samples.push({ t, v: value });
    while (samples.length > 2 && t - (samples[0]?.t ?? t) > RATE_WINDOW_MS) samples.shift();
    const first = samples[0];
    if (!first || t - first.t < 250) return undefined;
    return ((value - first.v) * 1000) / (t - first.t);
  }

  private update(phase: Phase, fraction: number | undefined, label: string): void {
    if (!this.enabled) return;
    const now = this.now();
    const finished = fraction !== undefined && fraction >= 1;
    if (this.tty) {
      const line = this.barLine(fraction, label);
      const wait = this.lastDrawAt + this.minRedrawMs - now;
      if (finished || wait <= 0) {
        this.draw(line, now);
        return;
      }
      // Throttled: the latest state is drawn once the interval has passed, so the bar never
      // stays behind when updates stop.
      if (this.pending) this.pending.line = line;
      else {
        const timer = setTimeout(() => {
          const pending = this.pending;
          this.pending = undefined;
          if (pending) this.draw(pending.line, this.now());
        }, wait);
        timer.unref?.();
        this.pending = { line, timer };
      }
      return;
    }
    if (fraction === undefined) {
      // No fraction: a line when the text changes, at most every minLineMs.
      if (label === phase.lastLabel || now - phase.lastLineAt < this.minLineMs) return;
    } else {
      const quarter = finished ? 4 : Math.floor(fraction * 4);
      if (quarter === phase.lastQuarter) return;
      phase.lastQuarter = quarter;
    }
    phase.lastLineAt = now;
    phase.lastLabel = label;
    this.io.stderr.write(
      `${fraction === undefined ? "" : `${(Math.min(1, fraction) * 100).toFixed(0)}% `}${label}\n`,
    );
  }

  private barLine(fraction: number | undefined, label: string): string {
    const width = 24;
    const shown = fraction === undefined ? undefined : Math.min(1, fraction);
    const bar =
      shown === undefined
        ? ""
        : `[${"#".repeat(Math.round(shown * width))}${"-".repeat(width - Math.round(shown * width))}] ${(shown * 100).toFixed(0).padStart(3)}% `;
    const columns = this.io.stderr.columns;
    // Keep the line one column short of the width so the cursor never wraps; a terminal that
    // reports no width (0, or none) gets the whole line.
    const full = `${bar}${label}`;
    return columns && columns > 1 ? full.slice(0, columns - 1) : full;
  }

  private draw(line: string, now: number): void {
    this.cancelPending();
    this.lastDrawAt = now;
    this.io.stderr.write(`\r\x1b[2K${line}`);
    this.lastLine = line;
  }

  private cancelPending(): void {
    if (!this.pending) return;
    clearTimeout(this.pending.timer);
    this.pending = undefined;
  }

  private clear(): void {
    this.cancelPending();
    if (this.tty && this.lastLine) {
      this.io.stderr.write("\r\x1b[2K");
      this.lastLine = "";
    }
  }
}
