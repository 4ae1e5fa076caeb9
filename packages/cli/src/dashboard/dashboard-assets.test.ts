import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrainableError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { loadAssets, pageHtml } from "./dashboard-assets.js";

describe("loadAssets", () => {
  it("names the folders it looked in when the page was not built, and serves only known types", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dashboard-assets-"));
    try {
      await expect(loadAssets([join(dir, "missing")])).rejects.toSatisfy(
        (e) => TrainableError.isInstance(e) && /page is missing.*missing/.test(e.message),
      );
      await writeFile(join(dir, "app.js"), "console.log(1)");
      await writeFile(join(dir, "app.css"), "body{}");
      await writeFile(join(dir, "secret.env"), "X=1");
      const assets = await loadAssets([dir]);
      expect([...assets.keys()].sort()).toEqual(["app.css", "app.js"]);
      expect(assets.get("app.js")?.type).toMatch(/^text\/javascript/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("escapes the page title", () => {
    expect(pageHtml('a<b>"c"')).toContain("<title>a&#60;b&#62;&#34;c&#34;</title>");
  });
});
