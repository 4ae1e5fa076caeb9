/// <reference lib="dom.iterable" />
/// <reference lib="dom" />
/**
 * The dashboard end to end, in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): `trainable dashboard` and `trainable train` run as separate processes on
 * one folder, as a user runs them. The page follows a spam-classifier training live to 100 %,
 * shows the new checkpoint and its F1 in the table and the chart, prunes from the page (preview,
 * confirm) — and the store is checked to match. A second training is cancelled from the page.
 * Screenshots of every page (laptop and phone widths) are taken on every run; they go to
 * docs/screenshots/ with TRAINABLE_UPDATE_SCREENSHOTS=1 (how the committed ones were made), else
 * to a temporary folder, so a test run leaves the working tree as it was.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createCheckpointStore } from "@trainable/storage";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/lib/chromium/chromium";
const here = dirname(fileURLToPath(import.meta.url));
const plugin = join(here, "..", "dist", "plugin.js");
const cliBin = join(
  dirname(createRequire(import.meta.url).resolve("@trainable/cli/package.json")),
  "dist",
  "bin.js",
);
const screenshots =
  process.env.TRAINABLE_UPDATE_SCREENSHOTS === "1"
    ? join(here, "..", "..", "..", "docs", "screenshots")
    : join(tmpdir(), "trainable-dashboard-screenshots");
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let cwd: string;
let browser: Browser;
let dashboard: ChildProcess;
let url: string;
const children: ChildProcess[] = [];

function cli(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [cliBin, ...args], {
    cwd,
    env: { ...process.env, NODE_NO_WARNINGS: "1", TRAINABLE_CACHE_DIR: join(cwd, "cache") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

/** Runs `trainable …` to its end. */
function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = cli(args);
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

/** Pictures of the page at laptop and phone widths (the whole page, or the screen: a dialog's backdrop covers only the screen). */
async function shoot(page: Page, name: string, fullPage = true): Promise<void> {
  for (const [size, viewport] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    // Chart.js redraws on resize: let it settle before the picture.
    await page.waitForTimeout(150);
    await page.screenshot({
      path: join(screenshots, `dashboard-${name}-${size}.png`),
      fullPage,
    });
  }
  await page.setViewportSize(LAPTOP);
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium)`).toBe(true);
  expect(existsSync(plugin), "the example is built (dist/plugin.js)").toBe(true);
  cwd = await mkdtemp(join(tmpdir(), "spam-dashboard-"));
  await mkdir(screenshots, { recursive: true });
  dashboard = cli(["dashboard", "--port", "0"]);
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    dashboard.stdout?.on("data", (d) => {
      out += d;
      const m = /dashboard on (http:\/\/\S+\/) /.exec(out);
      if (m) resolve(m[1] as string);
    });
    dashboard.stderr?.on("data", (d) => {
      out += d;
    });
    dashboard.on("exit", (code) => reject(new Error(`dashboard exited ${code}: ${out}`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM });
});

afterAll(async () => {
  await browser?.close();
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await rm(cwd, { recursive: true, force: true });
});

/** The row of the page's only (or newest) training of `instance`. */
const newestTask = (page: Page) =>
  page.locator("table.trainings tbody tr[data-testid^=task-]").first();

describe("trainable dashboard in headless Chromium", () => {
  it("follows a training live to 100 %, shows its checkpoint and F1 in the table and the chart, prunes", async () => {
    // A first checkpoint, trained before the page is open.
    const first = await run([
      "train",
      "--plugin",
      plugin,
      "--instance",
      "spam",
      "--handle",
      "v1",
      "--epochs",
      "1",
    ]);
    expect(first.code, first.output).toBe(0);

    const page = await browser.newPage({ viewport: LAPTOP });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${url}#/trainings`);
    await expect.poll(() => page.locator(".live.on").count()).toBe(1);
    await expect.poll(() => page.locator("table.trainings tbody tr[data-testid]").count()).toBe(1);

    // The page records every progress value it shows (it learns them from the event stream:
    // it does not poll, and the training starts after the page connected).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        for (const bar of document.querySelectorAll("[role=progressbar]")) {
          const value = `${bar.getAttribute("data-testid")}=${bar.getAttribute("aria-valuenow")}`;
          if (!seen.includes(value)) seen.push(value);
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const second = run([
      "train",
      "--plugin",
      plugin,
      "--instance",
      "spam",
      "--handle",
      "v2",
      "--epochs",
      "3",
    ]);
    await expect.poll(() => page.locator("table.trainings tbody tr[data-testid]").count()).toBe(2);
    const row = newestTask(page);
    const taskId = ((await row.getAttribute("data-testid")) as string).slice("task-".length);
    const bar = page.getByTestId(`progress-${taskId}`);
    // The running training's details (with its per-epoch chart) open by themselves.
    await expect.poll(() => bar.getAttribute("aria-valuenow"), { timeout: 60_000 }).toBe("100");
    await expect.poll(() => row.locator(".badge").textContent()).toBe("succeeded");
    const done = await second;
    expect(done.code, done.output).toBe(0);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen.filter((s) => s.startsWith(`progress-${taskId}=`)).at(-1)).toBe(
      `progress-${taskId}=100`,
    );

    // Per-epoch holdout metrics, charted while it trained: three epochs.
    await row.getByRole("button", { name: "Details" }).click();
    const epochChart = page.getByTestId(`epochs-${taskId}`);
    await expect.poll(() => epochChart.locator("tbody tr").count()).toBe(3);
    await shoot(page, "trainings");

    // The store is the truth the page must show.
    const store = await createCheckpointStore({
      url: pathToFileURL(join(cwd, ".trainable", "store")).href,
      workspace: "local",
    });
    const refs = await store.list({ pluginInstanceId: "spam" });
    const v2 = refs.find((r) => r.handle === "v2");
    const f1 = v2?.metadata.trainingResults?.f1 as number;
    expect(f1).toBeGreaterThan(0.9);

    await page.goto(`${url}#/`);
    const instance = page.getByTestId("instance-spam");
    await expect.poll(() => instance.textContent()).toContain(f1.toFixed(4));
    await shoot(page, "instances");

    await instance.getByRole("link", { name: "spam" }).click();
    const v2Row = page.getByTestId("checkpoint-v2");
    await expect.poll(() => v2Row.locator("[data-metric=f1]").textContent()).toBe(f1.toFixed(4));
    await expect.poll(() => v2Row.textContent()).toContain("default");
    await expect.poll(() => page.getByTestId("checkpoint-v1").count()).toBe(1);
    const chart = page.getByTestId("checkpoint-chart");
    expect(await chart.locator("canvas").getAttribute("aria-label")).toContain(
      `v2 ${f1.toFixed(4)}`,
    );
    expect(await chart.locator("tbody tr").allTextContents()).toEqual([
      expect.stringMatching(/^v1/),
      `v2${f1.toFixed(4)}`,
    ]);
    await shoot(page, "instance");

    // Prune from the page: a preview first, then a confirmation.
    await page.getByLabel("Keep the newest").fill("1");
    await page.getByRole("button", { name: "Preview (dry run)" }).click();
    const preview = page.getByTestId("prune-preview");
    await expect.poll(() => preview.textContent()).toContain("Would delete: v1");
    expect((await store.list({ pluginInstanceId: "spam" })).map((r) => r.handle).sort()).toEqual([
      "default",
      "v1",
      "v2",
    ]);
    // Escape backs out of the confirmation: nothing deleted.
    await preview.getByRole("button", { name: "Prune…" }).click();
    await expect.poll(() => page.getByRole("dialog", { name: "Prune spam?" }).count()).toBe(1);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
    expect((await store.list({ pluginInstanceId: "spam" })).length).toBe(3);
    await preview.getByRole("button", { name: "Prune…" }).click();
    const dialog = page.getByRole("dialog", { name: "Prune spam?" });
    await shoot(page, "prune-confirm", false);
    await dialog.getByRole("button", { name: "Delete 1 checkpoint" }).click();
    await expect.poll(() => page.getByTestId("checkpoint-v1").count()).toBe(0);
    await expect.poll(() => page.getByRole("status").textContent()).toContain("deleted v1");

    const after = (await store.list({ pluginInstanceId: "spam" })).map((r) => r.handle).sort();
    expect(after).toEqual(["default", "v2"]);
    const shown = await page.locator("[data-testid=checkpoints] tbody th").allTextContents();
    expect(shown.map((s) => s.replace("default", ""))).toEqual(["v2"]);
    await store.close();
    expect(errors).toEqual([]);
    await page.close();
  });

  it("cancels a running training from the page (the process driving it stops it)", async () => {
    const page = await browser.newPage({ viewport: LAPTOP });
    await page.goto(`${url}#/instances/spam`);
    await expect.poll(() => page.locator(".live.on").count()).toBe(1);
    const before = await page.locator("table.trainings tbody tr[data-testid]").count();
    const training = run([
      "train",
      "--plugin",
      plugin,
      "--instance",
      "spam",
      "--handle",
      "long",
      "--epochs",
      "40",
    ]);
    await expect
      .poll(() => page.locator("table.trainings tbody tr[data-testid]").count())
      .toBe(before + 1);
    const row = newestTask(page);
    await expect
      .poll(() => row.locator(".badge").textContent(), { timeout: 60_000 })
      .toBe("running");
    // Once its first progress arrived: the picture of a training under way.
    const id = ((await row.getAttribute("data-testid")) as string).slice("task-".length);
    await expect.poll(() => page.getByTestId(`progress-${id}`).count()).toBe(1);
    await shoot(page, "training-live");
    await row.getByRole("button", { name: "Cancel" }).click();
    await expect
      .poll(() => row.locator(".badge").textContent(), { timeout: 60_000 })
      .toBe("cancelled");
    const ended = await training;
    expect(ended.code).toBe(1);
    // The local engine in `trainable train` honoured the page's cancel request by itself.
    expect(ended.output).toContain("Training cancelled: requested by another process");
    const store = await createCheckpointStore({
      url: pathToFileURL(join(cwd, ".trainable", "store")).href,
      workspace: "local",
    });
    expect((await store.list({ pluginInstanceId: "spam" })).map((r) => r.handle)).not.toContain(
      "long",
    );
    await store.close();
    await page.close();
  });

  it("with a token: the page asks for it, refuses a wrong one, and works with the right one", async () => {
    const TOKEN = "e2e-dashboard-token-0123456789abcdef";
    const guarded = cli(["dashboard", "--port", "0", "--token", TOKEN]);
    const guardedUrl = await new Promise<string>((resolve, reject) => {
      let out = "";
      guarded.stdout?.on("data", (d) => {
        out += d;
        const m = /dashboard on (http:\/\/\S+\/) /.exec(out);
        if (m) resolve(m[1] as string);
      });
      guarded.on("exit", (code) => reject(new Error(`dashboard exited ${code}: ${out}`)));
    });
    const page = await browser.newPage({ viewport: LAPTOP });
    await page.goto(guardedUrl);
    const field = page.getByLabel("Token");
    await expect.poll(() => field.count()).toBe(1);
    await shoot(page, "token");
    await field.fill("wrong-token-0123456789abcdef");
    await field.press("Enter");
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not accepted");
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Open the dashboard" }).click();
    await expect.poll(() => page.getByTestId("instance-spam").count()).toBe(1);
    await expect.poll(() => page.locator(".live.on").count()).toBe(1);
    guarded.kill("SIGTERM");
    await page.close();
  });

  it("is usable by keyboard and passes axe-core's WCAG 2 A and AA rules on every page, at laptop and phone widths", async () => {
    // axe is injected as a script: this context lets it past the page's CSP (the other tests
    // keep the CSP, so the page itself is tested under it).
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const axe = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
    // Keyboard only: Tab reaches the navigation (after the skip link), Enter follows it.
    await page.goto(`${url}#/`);
    await page.waitForSelector("[data-testid=instances]");
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.textContent)) === "Trainings") break;
    }
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => location.hash)).toBe("#/trainings");
    await page.waitForSelector("table.trainings");
    for (const [route, ready] of [
      ["#/", "[data-testid=instances]"],
      ["#/trainings", "table.trainings"],
      ["#/instances/spam", "[data-testid=checkpoint-chart]"],
    ] as const) {
      for (const viewport of [LAPTOP, PHONE]) {
        await page.setViewportSize(viewport);
        await page.goto(`${url}${route}`);
        await page.reload();
        await page.waitForSelector(ready);
        await page.addScriptTag({ path: axe });
        const violations = await page.evaluate(async () => {
          const result = await (
            window as unknown as {
              axe: {
                run(o: object): Promise<{
                  violations: {
                    id: string;
                    nodes: { target: string[]; failureSummary: string }[];
                  }[];
                }>;
              };
            }
          ).axe.run({
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
          });
          return result.violations.map(
            (v) =>
              `${v.id}: ${v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`).join("; ")}`,
          );
        });
        expect(violations, `${route} at ${viewport.width}px`).toEqual([]);
      }
    }
    await context.close();
  });
});
