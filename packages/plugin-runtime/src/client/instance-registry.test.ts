import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotFoundError, validateId } from "@trainable/core";
import { afterEach, describe, expect, it } from "vitest";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import { createInstanceRegistry } from "./instance-registry.js";

const id = (value: string) => validateId(value, "id");
const trainable = {
  parseConfig: (config: unknown) => ({ threshold: 0.5, ...(config as object) }),
} as unknown as AnyTrainablePluginService;

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("createInstanceRegistry", () => {
  it("without instances: any valid id, with the config made of {}", () => {
    const registry = createInstanceRegistry({ trainable });
    expect(registry.resolve("a")).toEqual({ id: "a", config: { threshold: 0.5 } });
    expect(registry.resolve("a")).toBe(registry.resolve("a"));
    expect(() => registry.resolve("../a")).toThrow(/context\.pluginInstanceId/);
    expect(() => registry.resolve(undefined)).toThrow(/is required/);
  });

  it("a plugin that is not trainable needs no instance", () => {
    expect(createInstanceRegistry({ trainable: undefined }).resolve(undefined)).toBeUndefined();
  });

  it("with instances: only those, their configs parsed", async () => {
    const registry = createInstanceRegistry({
      trainable,
      instances: { known: { id: "known", config: { threshold: 0.9 } } },
    });
    expect(registry.resolve("known")).toEqual({ id: "known", config: { threshold: 0.9 } });
    await expect(Promise.resolve().then(() => registry.resolve("other"))).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
  });

  it("registered instances come first, and are kept in instancesDir across restarts", async () => {
    dir = await mkdtemp(join(tmpdir(), "instance-registry-"));
    const registry = createInstanceRegistry({ trainable, instancesDir: dir, instances: {} });
    const made = await registry.register({ id: id("r1"), handle: id("h1"), config: {} });
    expect(made).toEqual({ id: "r1", handle: "h1", config: { threshold: 0.5 } });
    expect(registry.resolve("r1")).toBe(made);
    expect(JSON.parse(await readFile(join(dir, "r1.json"), "utf8"))).toEqual({
      handle: "h1",
      config: { threshold: 0.5 },
    });
    const restarted = createInstanceRegistry({ trainable, instancesDir: dir, instances: {} });
    expect(await restarted.resolve("r1")).toEqual(made);
  });
});
