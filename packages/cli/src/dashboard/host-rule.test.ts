import { describe, expect, it } from "vitest";
import { hostAllowed } from "./host-rule.js";

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
