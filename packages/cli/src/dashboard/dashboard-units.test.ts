import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrainableError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { loadAssets, pageHtml } from "./dashboard-assets.js";
import { hostAllowed } from "./host-rule.js";
import { shownPath } from "./read-only-view.js";
import { PruneBody } from "./schemas.js";
import { storeLabel } from "./store-label.js";

describe("storeLabel", () => {
  it("shows where a store is without its query or credentials", () => {
    expect(storeLabel("file:///srv/store")).toBe("/srv/store");
    expect(storeLabel("s3://bucket/prefix?endpoint=http://10.0.0.1:7480&region=x")).toBe(
      "s3://bucket/prefix",
    );
    expect(storeLabel("s3://key:secret@bucket/p")).toBe("s3://bucket/p");
    expect(storeLabel("memory://")).toBe("memory://");
    expect(storeLabel("not a url")).toBe("(store)");
  });

  it("read-only: a file store relative to the working directory, or only its last part", () => {
    expect(storeLabel("file:///work/app/.trainable/store", "/work/app")).toBe(
      "file:.trainable/store",
    );
    expect(storeLabel("file:///srv/store", "/work/app")).toBe("file:…/store");
    expect(storeLabel("file:///work/app-other/store", "/work/app")).toBe("file:…/store");
    expect(shownPath("/work/app", "/work/app")).toBe(".");
  });
});

describe("hostAllowed", () => {
  it("loopback names, IP literals and the allowed names, with or without a port", () => {
    for (const host of ["localhost:1", "127.0.0.1", "10.0.0.2:80", "[::1]:9", "[2001:db8::1]"]) {
      expect(hostAllowed(host, []), host).toBe(true);
    }
    expect(hostAllowed("dash.lan:8090", ["dash.lan"])).toBe(true);
    for (const host of [
      "dash.lan",
      "evil.test",
      "[evil.test]",
      "10.0.0.2.evil.test",
      "",
      undefined,
    ]) {
      expect(hostAllowed(host, []), String(host)).toBe(false);
    }
  });
});

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

describe("PruneBody", () => {
  it("accepts the CLI's rules and names what is wrong otherwise", () => {
    expect(PruneBody.parse({ keepLast: 2, dryRun: true })).toEqual({
      keepLast: 2,
      dryRun: true,
      mode: "max",
      protect: [],
      gcMinAgeMs: 3_600_000,
    });
    const issue = (body: unknown) => PruneBody.safeParse(body).error?.issues[0]?.path.join(".");
    expect(issue({ dryRun: true })).toBe("keepLast");
    expect(issue({ keepBest: 1, dryRun: true })).toBe("metric");
    expect(issue({ keepLast: 1.5, dryRun: true })).toBe("keepLast");
    expect(issue({ keepLast: 1, dryRun: "yes" })).toBe("dryRun");
    expect(issue({ keepLast: 1, dryRun: true, mode: "median" })).toBe("mode");
    expect(issue({ keepLast: 1, dryRun: true, protect: ["a/b"] })).toBe("protect.0");
    expect(issue({ keepLast: 1, dryRun: true, gcMinAgeMs: -1 })).toBe("gcMinAgeMs");
    expect(issue({ keepLast: 1, dryRun: false, expectDeleted: "v1" })).toBe("expectDeleted");
  });
});
