import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import type { CliIo } from "./io.js";
import { formatDuration, ProgressReporter } from "./progress.js";

function fakeIo(tty: boolean, columns?: number) {
  const writes: string[] = [];
  const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns });
  stderr.write = ((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof stderr.write;
  const io: CliIo = {
    stdout: new PassThrough(),
    stderr,
    stdin: new PassThrough(),
    env: {},
    cwd: "/",
  };
  return { io, writes };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** The visible text of each redraw: what follows the last clear-line sequence. */
const frames = (writes: string[]) =>
  writes.filter((w) => w.startsWith("\r\x1b[2K") && w.length > 5).map((w) => w.slice(5));

describe("ProgressReporter", () => {
  it("redraws a TTY bar at most every 100 ms, and always draws 100 %", () => {
    const { io, writes } = fakeIo(true, 120);
    const c = clock();
    const progress = new ProgressReporter(io, { enabled: true, now: c.now });
    const total = 10 * 1024 * 1024;
    // 1000 chunks over one second: a redraw per chunk would be 1000 writes.
    for (let i = 1; i <= 1000; i++) {
      c.advance(1);
      progress.transfer({ phase: "upload", bytes: Math.round((i * total) / 1000), total });
    }
    const drawn = frames(writes);
    expect(drawn.length).toBeLessThanOrEqual(12);
    expect(drawn.length).toBeGreaterThanOrEqual(9);
    expect(drawn.at(-1)).toMatch(/\] 100% upload 10\.0 MiB \/ 10\.0 MiB/);
  });

  it("draws the latest throttled state once the interval has passed", () => {
    vi.useFakeTimers();
    try {
      const { io, writes } = fakeIo(true, 120);
      const c = clock();
      const progress = new ProgressReporter(io, { enabled: true, now: c.now });
      progress.training({ statusMessage: "step 1" });
      c.advance(10);
      progress.training({ statusMessage: "step 2" });
      c.advance(10);
      progress.training({ statusMessage: "step 3" });
      expect(frames(writes)).toEqual(["train step 1"]);
      c.advance(80);
      vi.advanceTimersByTime(90);
      expect(frames(writes)).toEqual(["train step 1", "train step 3"]);
      // done() drops a pending redraw: nothing is drawn after the bar is cleared.
      c.advance(10);
      progress.training({ statusMessage: "step 4" });
      progress.done();
      vi.advanceTimersByTime(200);
      expect(frames(writes)).toEqual(["train step 1", "train step 3"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows the rate and an ETA", () => {
    const { io, writes } = fakeIo(true, 200);
    const c = clock();
    const progress = new ProgressReporter(io, { enabled: true, now: c.now });
    const MiB = 1024 * 1024;
    progress.transfer({ phase: "download", bytes: 0, total: 100 * MiB });
    for (let i = 1; i <= 10; i++) {
      c.advance(200);
      progress.transfer({ phase: "download", bytes: i * 2 * MiB, total: 100 * MiB }); // 10 MiB/s
    }
    const last = frames(writes).at(-1) ?? "";
    expect(last).toMatch(/ 20% download 20\.0 MiB \/ 100\.0 MiB {2}10\.0 MiB\/s {2}ETA 8s$/);
  });

  it("reaches 100 % on an upload whose bytes pass the estimated total", () => {
    const { io, writes } = fakeIo(false);
    const progress = new ProgressReporter(io, { enabled: true, now: clock().now });
    progress.transfer({ phase: "upload", bytes: 0, total: 1000 });
    progress.transfer({ phase: "upload", bytes: 1536, total: 1000 });
    const text = writes.join("");
    expect(text).toMatch(/^100% upload 1\.5 KiB \/ 1\.5 KiB$/m);
    expect(text).not.toMatch(/\b(?:10[1-9]|1[1-9][0-9])%/);
  });

  it("writes whole lines on a terminal that reports zero columns (or none)", () => {
    for (const columns of [0, undefined]) {
      const { io, writes } = fakeIo(true, columns);
      const progress = new ProgressReporter(io, { enabled: true, now: clock().now });
      progress.transfer({ phase: "download", bytes: 512, total: 1024 });
      expect(frames(writes)).toEqual(["[############------------]  50% download 512 B / 1.0 KiB"]);
    }
    // A narrow terminal: cut one column short so the cursor never wraps.
    const { io, writes } = fakeIo(true, 10);
    new ProgressReporter(io, { enabled: true, now: clock().now }).transfer({
      phase: "download",
      bytes: 1,
    });
    expect(frames(writes)).toEqual(["download "]);
  });

  it("prints plain lines when not a TTY: at the start, every 25 % and 100 %", () => {
    const { io, writes } = fakeIo(false);
    const c = clock();
    const progress = new ProgressReporter(io, { enabled: true, now: c.now });
    for (let i = 0; i <= 100; i++) {
      c.advance(10);
      progress.training({ output: { trainingProgress: { fraction: i / 100 } } });
    }
    const lines = writes.join("").trim().split("\n");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["0%", "25%", "50%", "75%", "100%"]);
    expect(writes.join("")).not.toContain("\r");
  });

  it("throttles plain lines without a fraction to one a second", () => {
    const { io, writes } = fakeIo(false);
    const c = clock();
    const progress = new ProgressReporter(io, { enabled: true, now: c.now });
    for (let i = 0; i < 50; i++) {
      c.advance(100);
      progress.training({ statusMessage: `step ${i}` });
    }
    expect(writes.length).toBeGreaterThanOrEqual(4);
    expect(writes.length).toBeLessThanOrEqual(6);
  });

  it("is silent when disabled (--json)", () => {
    const { io, writes } = fakeIo(true, 80);
    const progress = new ProgressReporter(io, { enabled: false });
    progress.transfer({ phase: "upload", bytes: 1, total: 2 });
    progress.message("hello");
    expect(writes).toEqual([]);
  });

  it("formats durations", () => {
    expect(formatDuration(8_000)).toBe("8s");
    expect(formatDuration(75_000)).toBe("1m15s");
    expect(formatDuration(3_720_000)).toBe("1h02m");
  });
});
