import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultCacheDir } from "./default-cache-dir.js";

describe("defaultCacheDir", () => {
  it("prefers TRAINABLE_CACHE_DIR, then XDG_CACHE_HOME/trainable, then ~/.cache/trainable", () => {
    expect(defaultCacheDir({ TRAINABLE_CACHE_DIR: "/x/y", XDG_CACHE_HOME: "/xdg" })).toBe("/x/y");
    expect(defaultCacheDir({ TRAINABLE_CACHE_DIR: "rel" })).toBe(resolve("rel"));
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/trainable");
    expect(defaultCacheDir({ TRAINABLE_CACHE_DIR: "", XDG_CACHE_HOME: "relative" })).toBe(
      join(homedir(), ".cache", "trainable"),
    );
    expect(defaultCacheDir({})).toBe(join(homedir(), ".cache", "trainable"));
  });
});
