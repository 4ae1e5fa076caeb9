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

/**
 * Progress for transfers and training. On a TTY: one redrawn bar on stderr. Otherwise: a
 * plain line per phase and every 25 %, so logs stay readable. Silent with `--json`.
 */
export class ProgressReporter {
  private lastLine = "";
  private lastQuarter = new Map<string, number>();
  private readonly tty: boolean;

  constructor(
    private readonly io: CliIo,
    private readonly enabled: boolean,
  ) {
    this.tty = Boolean(io.stderr.isTTY);
  }

  transfer = (p: TransferProgress): void => {
    // Upload totals are the folder's file sizes; the archive adds headers, so bytes may pass
    // the total slightly: then show bytes only, never "103%".
    const total = p.total && p.bytes <= p.total ? p.total : undefined;
    const fraction = total ? p.bytes / total : undefined;
    const label = `${p.phase} ${formatBytes(p.bytes)}${total ? ` / ${formatBytes(total)}` : ""}`;
    this.update(p.phase, fraction, label);
  };

  /** A training update (`postUpdate` from the plugin): its progress numbers and message. */
  training = (update: PostUpdate): void => {
    const tp = update.output?.trainingProgress ?? {};
    const fraction = typeof tp.fraction === "number" ? tp.fraction : undefined;
    const detail = Object.entries(tp)
      .filter(([k]) => k !== "fraction")
      .map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toFixed(4)) : String(v)}`);
    if (update.statusMessage) detail.unshift(update.statusMessage);
    this.update("train", fraction, `train ${detail.join(" ")}`.trim());
  };

  /** Blobs checked by `checkpoints verify`. */
  verify = (p: { checked: number; total: number; bytes: number }): void => {
    const fraction = p.total > 0 ? p.checked / p.total : undefined;
    this.update(
      "verify",
      fraction,
      `verify ${p.checked}/${p.total} blobs, ${formatBytes(p.bytes)}`,
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

  private update(key: string, fraction: number | undefined, label: string): void {
    if (!this.enabled) return;
    if (this.tty) {
      const width = 24;
      const filled = fraction === undefined ? 0 : Math.round(fraction * width);
      const bar =
        fraction === undefined
          ? ""
          : `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
      const line = `${bar}${label}`.slice(0, (this.io.stderr.columns ?? 100) - 1);
      this.io.stderr.write(`\r\x1b[2K${line}`);
      this.lastLine = line;
      return;
    }
    const quarter = fraction === undefined ? -1 : Math.floor(fraction * 4);
    if (this.lastQuarter.get(key) === quarter && fraction !== undefined) return;
    this.lastQuarter.set(key, quarter);
    this.io.stderr.write(
      `${fraction === undefined ? "" : `${(fraction * 100).toFixed(0)}% `}${label}\n`,
    );
  }

  private clear(): void {
    if (this.tty && this.lastLine) {
      this.io.stderr.write("\r\x1b[2K");
      this.lastLine = "";
    }
  }
}
