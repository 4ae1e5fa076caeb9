import { describe, expect, it } from "vitest";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { sameInstance } from "./instance-route.js";

const plain = { service: {} } as LocalPluginClient;

describe("sameInstance", () => {
  it("compares the handle and the config", () => {
    const known = { handle: "h", config: { a: 1 } };
    expect(sameInstance(known, { handle: "h", config: { a: 1 } }, plain)).toBe(true);
    expect(sameInstance(known, { handle: "g", config: { a: 1 } }, plain)).toBe(false);
    expect(sameInstance(known, { handle: "h", config: { a: 2 } }, plain)).toBe(false);
    expect(sameInstance({ config: {} }, { config: {} }, plain)).toBe(true);
  });
});
