import type { PluginRequest } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { checkWorkspace } from "./check-workspace.js";

const request = (workspace?: string) =>
  ({ context: workspace === undefined ? {} : { workspace }, data: {} }) as PluginRequest<unknown>;

describe("checkWorkspace", () => {
  it("accepts the served workspace, or none named", () => {
    expect(() => checkWorkspace(request("ws"), "ws")).not.toThrow();
    expect(() => checkWorkspace(request(), "ws")).not.toThrow();
  });

  it("refuses another workspace", () => {
    expect(() => checkWorkspace(request("other"), "ws")).toThrow(
      '"other" is not served here (this plugin serves workspace "ws")',
    );
  });
});
