import { describe, expect, it } from "vitest";
import { expectIssuePaths, readFixture } from "./__fixtures__/helpers.js";
import { PluginRequestContext } from "./plugin-request-context.js";

describe("PluginRequestContext schema", () => {
  it("accepts the context the engine sends", () => {
    const body = readFixture("train-request.json") as { context: unknown };
    expect(PluginRequestContext.parse(body.context)).toEqual(body.context);
  });

  it("accepts an empty context and a workspace", () => {
    expect(PluginRequestContext.parse({})).toEqual({});
    expect(PluginRequestContext.parse({ workspace: "default" })).toEqual({ workspace: "default" });
  });

  it("rejects ids that could escape their scope, naming each field", () => {
    expectIssuePaths(
      PluginRequestContext,
      {
        pluginHandle: "../plugin",
        pluginInstanceId: "a/b",
        pluginInstanceHandle: ".hidden",
        workspace: "..",
        pluginId: "p".repeat(257),
        pluginVersionId: 3,
        pluginVersionHandle: "v".repeat(257),
      },
      [
        "pluginHandle",
        "pluginInstanceId",
        "pluginInstanceHandle",
        "workspace",
        "pluginId",
        "pluginVersionId",
        "pluginVersionHandle",
      ],
      "PluginRequestContext",
    );
  });

  it("rejects a non-object", () => {
    expectIssuePaths(PluginRequestContext, "ctx", ["(root)"], "PluginRequestContext");
  });
});
