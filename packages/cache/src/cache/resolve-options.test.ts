import type { CheckpointStore } from "@trainable/core";
import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { CreateModelCacheOptions } from "./create-model-cache-options.js";
import { resolveOptions } from "./resolve-options.js";

const store = {
  workspace: "ws",
  resolve: async () => ({}),
  fetch: async () => ({}),
} as unknown as CheckpointStore;

function fieldOf(options: Partial<CreateModelCacheOptions>): string | undefined {
  try {
    resolveOptions({ store, diskDir: "/tmp/x", ...options } as CreateModelCacheOptions);
    return undefined;
  } catch (error) {
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^\[cache\] Invalid /);
    return (error as ValidationError).issues[0]?.path;
  }
}

describe("resolveOptions", () => {
  it("fills in the defaults", () => {
    const o = resolveOptions({ store, diskDir: "/tmp/x" });
    expect(o).toMatchObject({
      maxEntries: 16,
      maxBytes: undefined,
      revalidateMs: 5000,
      staleWhileRevalidateMs: 60_000,
      staleIfErrorMs: Number.POSITIVE_INFINITY,
      disposeUnleasedAfterMs: Number.POSITIVE_INFINITY,
      diskDir: "/tmp/x",
      diskMaxBytes: 20 * 1024 ** 3,
      offline: false,
      verify: "stat",
    });
  });

  it("revalidateMs 0 waits for every answer unless staleWhileRevalidateMs is given", () => {
    expect(resolveOptions({ store, diskDir: "/tmp/x", revalidateMs: 0 })).toMatchObject({
      revalidateMs: 0,
      staleWhileRevalidateMs: 0,
    });
    expect(
      resolveOptions({ store, diskDir: "/tmp/x", revalidateMs: 0, staleWhileRevalidateMs: 10 }),
    ).toMatchObject({ revalidateMs: 0, staleWhileRevalidateMs: 10 });
  });

  it("names the bad field", () => {
    expect(fieldOf({ store: {} as CheckpointStore })).toBe("store");
    expect(fieldOf({ maxEntries: 0 })).toBe("maxEntries");
    expect(fieldOf({ maxEntries: 1.5 })).toBe("maxEntries");
    expect(fieldOf({ maxBytes: -1 })).toBe("maxBytes");
    expect(fieldOf({ revalidateMs: -1 })).toBe("revalidateMs");
    expect(fieldOf({ revalidateMs: Number.NaN })).toBe("revalidateMs");
    expect(fieldOf({ staleWhileRevalidateMs: -1 })).toBe("staleWhileRevalidateMs");
    expect(fieldOf({ staleIfErrorMs: Number.NaN })).toBe("staleIfErrorMs");
    expect(fieldOf({ staleIfErrorMs: "1h" as never })).toBe("staleIfErrorMs");
    expect(fieldOf({ disposeUnleasedAfterMs: -1 })).toBe("disposeUnleasedAfterMs");
    expect(
      fieldOf({ staleIfErrorMs: 0, staleWhileRevalidateMs: 0, disposeUnleasedAfterMs: 0 }),
    ).toBeUndefined();
    expect(fieldOf({ diskDir: "" })).toBe("diskDir");
    expect(fieldOf({ diskMaxBytes: -5 })).toBe("diskMaxBytes");
    expect(fieldOf({ verify: "sometimes" as never })).toBe("verify");
    expect(fieldOf({ offline: "yes" as never })).toBe("offline");
    expect(fieldOf({ offline: true, diskDir: false })).toBe("offline");
    expect(fieldOf({ lockStaleMs: 0 })).toBe("lockStaleMs");
    expect(fieldOf({ now: 5 as never })).toBe("now");
    expect(fieldOf({ revalidateMs: 0, maxEntries: 1 })).toBeUndefined();
  });
});
