import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { parsePluginServerUrl } from "./plugin-server-url.js";

describe("parsePluginServerUrl", () => {
  it("gives the root with a trailing slash and the display name without", () => {
    expect(parsePluginServerUrl("http://127.0.0.1:3000")).toEqual({
      root: "http://127.0.0.1:3000/",
      display: "http://127.0.0.1:3000",
    });
    expect(parsePluginServerUrl(new URL("https://x.test/plugins/tagger"))).toEqual({
      root: "https://x.test/plugins/tagger/",
      display: "https://x.test/plugins/tagger",
    });
  });

  it("refuses what is not an http(s) URL", () => {
    expect(() => parsePluginServerUrl("not a url")).toThrow(/baseUrl.*is not a URL/);
    try {
      parsePluginServerUrl("ftp://x.test/");
      expect.unreachable();
    } catch (error) {
      expect(ValidationError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain("must be an http: or https: URL");
    }
  });
});
