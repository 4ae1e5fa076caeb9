import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { requireTokenOffLoopback } from "./require-token-off-loopback.js";

describe("requireTokenOffLoopback", () => {
  it("lets loopback through without a token, and says it is loopback", () => {
    expect(requireTokenOffLoopback({ host: "127.0.0.1", token: false, insecure: false })).toBe(
      true,
    );
    expect(requireTokenOffLoopback({ host: "localhost", token: false, insecure: false })).toBe(
      true,
    );
  });

  it("refuses another host without a token, naming --token and the variable", () => {
    const refuse = () =>
      requireTokenOffLoopback({ host: "0.0.0.0", token: false, insecure: false });
    expect(refuse).toThrow(ValidationError);
    expect(refuse).toThrow(/--token is required to listen on 0\.0\.0\.0.*TRAINABLE_TOKEN/);
  });

  it("lets another host through with a token or with --insecure", () => {
    expect(requireTokenOffLoopback({ host: "0.0.0.0", token: true, insecure: false })).toBe(false);
    expect(requireTokenOffLoopback({ host: "0.0.0.0", token: false, insecure: true })).toBe(false);
  });
});
