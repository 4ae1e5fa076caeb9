import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listLocalInstances } from "./list-local-instances.js";

const instance = (id: string) => ({
  schemaVersion: 1,
  id,
  plugin: "echo",
  config: {},
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
});

describe("listLocalInstances", () => {
  it("lists valid instance files by id, skipping and reporting bad ones", async () => {
    const root = await mkdtemp(join(tmpdir(), "cli-instances-"));
    try {
      const dir = join(root, "instances");
      await mkdir(dir);
      await writeFile(join(dir, "b.json"), JSON.stringify(instance("b")));
      await writeFile(join(dir, "a.json"), JSON.stringify(instance("a")));
      await writeFile(join(dir, "broken.json"), "{");
      await writeFile(join(dir, "notes.txt"), "x");
      await writeFile(join(dir, ".x.json"), JSON.stringify(instance("x")));
      const problems: string[] = [];
      const list = await listLocalInstances(dir, (key, message) =>
        problems.push(`${key}|${message}`),
      );
      expect(list.map((i) => i.id)).toEqual(["a", "b"]);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(join(dir, "broken.json"));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("is empty when there is no instances folder", async () => {
    expect(await listLocalInstances(join(tmpdir(), "no-such-dir-cli-x"), () => {})).toEqual([]);
  });
});
