import type { CheckpointStore, PluginRequest } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { PluginService } from "../service/plugin-service.js";
import type { InstanceRegistry } from "./instance-registry.js";
import { createLocalRun, runSchemas } from "./local-run.js";

const store = { workspace: "ws" } as CheckpointStore;
const instances = {
  resolve: (id: string | undefined) => (id === undefined ? undefined : { id, config: {} }),
} as InstanceRegistry;
const runSchema = z.object({
  context: z.record(z.string(), z.unknown()).optional(),
  data: z.object({ text: z.string() }),
}) as z.ZodType<PluginRequest<unknown>>;

function runWith(
  run: (request: unknown, context: Record<string, unknown>) => unknown,
  output?: z.ZodType,
) {
  const service = { pluginName: "demo", run } as unknown as PluginService;
  return createLocalRun({
    service,
    store,
    cache: false,
    instances,
    runSchema,
    outputSchema: output,
  });
}

describe("createLocalRun", () => {
  it("runs the plugin with the instance, handle and a lazily read signal", async () => {
    const seen: Record<string, unknown>[] = [];
    const run = runWith((_request, context) => {
      seen.push({ ...context });
      return { ok: true };
    });
    const request = { context: { pluginInstanceId: "i1" }, data: { text: "x" } };
    expect(await run(request as PluginRequest<unknown>, { handle: "h1" })).toEqual({ ok: true });
    expect(seen[0]).toMatchObject({ store, cache: false, instance: { id: "i1" }, handle: "h1" });
  });

  it("parses the request unless prevalidated", async () => {
    const run = runWith(() => "out");
    await expect(run({ data: { text: 1 } } as PluginRequest<unknown>)).rejects.toThrow(
      /demo run request/,
    );
    expect(await run({ data: { text: 1 } } as PluginRequest<unknown>, { prevalidated: true })).toBe(
      "out",
    );
  });

  it("refuses another workspace and a bad handle", async () => {
    const run = runWith(() => "out");
    const request = { context: { workspace: "other" }, data: { text: "x" } };
    await expect(run(request as PluginRequest<unknown>)).rejects.toThrow(/is not served here/);
    await expect(
      run({ data: { text: "x" } } as PluginRequest<unknown>, { handle: "../h" }),
    ).rejects.toThrow(/handle/);
  });

  it("checks the output against the plugin's schema", async () => {
    const run = runWith(() => ({ label: 3 }), z.object({ label: z.string() }));
    await expect(run({ data: { text: "x" } } as PluginRequest<unknown>)).rejects.toThrow(
      /^\[runtime\] demo\.run returned an invalid output: /,
    );
  });
});

describe("runSchemas", () => {
  const service = {
    inputSchema: z.object({ text: z.string() }),
    outputSchema: z.object({ ok: z.boolean() }),
  } as unknown as PluginService;

  it("compiles the request schema, and the output schema unless checkOutput is false", () => {
    const checked = runSchemas(service, undefined);
    expect(checked.runSchema.safeParse({ data: { text: "x" } }).success).toBe(true);
    expect(checked.runSchema.safeParse({ data: { text: 1 } }).success).toBe(false);
    expect(checked.outputSchema?.safeParse({ ok: "no" }).success).toBe(false);
    expect(runSchemas(service, true).outputSchema).toBeDefined();
    expect(runSchemas(service, false).outputSchema).toBeUndefined();
  });

  it("names checkOutput when it is not a boolean", () => {
    expect(() => runSchemas(service, "yes")).toThrow(/checkOutput.*true or false/);
  });
});
