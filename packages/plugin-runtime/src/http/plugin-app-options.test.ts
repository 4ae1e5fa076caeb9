import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { type PluginAppOptions, resolvePluginAppOptions } from "./plugin-app-options.js";

const clientWith = (routeAlias?: string) =>
  ({ kind: "in-process", name: "demo", service: { routeAlias } }) as unknown as LocalPluginClient;
const options = (more: Partial<PluginAppOptions> = {}) => ({ ...more }) as PluginAppOptions;

function validationMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(ValidationError.isInstance(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("did not throw");
}

describe("resolvePluginAppOptions", () => {
  it("serves an in-process client as it is, with the defaults", () => {
    const client = clientWith("tag");
    const resolved = resolvePluginAppOptions(client, options());
    expect(resolved.client).toBe(client);
    expect(resolved.bodyLimit).toBe(1024 * 1024);
    expect(resolved.alias).toBe("tag");
    expect(resolved.tokens).toBeUndefined();
    expect(typeof resolved.logger.error).toBe("function");
  });

  it("parses the tokens", () => {
    const token = "0123456789abcdef0123";
    expect(resolvePluginAppOptions(clientWith(), options({ token })).tokens).toEqual([token]);
    expect(
      validationMessage(() => resolvePluginAppOptions(clientWith(), options({ token: "short" }))),
    ).toContain("token");
  });

  it("refuses a bad body limit, route alias or publicRequests", () => {
    expect(
      validationMessage(() => resolvePluginAppOptions(clientWith(), options({ bodyLimit: 0 }))),
    ).toContain("bodyLimit");
    expect(
      validationMessage(() => resolvePluginAppOptions(clientWith("a/b"), options())),
    ).toContain('"a/b" is not a valid route name');
    expect(
      validationMessage(() =>
        resolvePluginAppOptions(
          clientWith(),
          options({ publicRequests: "all" as unknown as PluginAppOptions["publicRequests"] }),
        ),
      ),
    ).toContain("publicRequests");
  });

  it("refuses servedTasks that is not an object", () => {
    for (const bad of [7, null, ["maxTasks"]]) {
      const servedTasks = bad as unknown as PluginAppOptions["servedTasks"];
      expect(
        validationMessage(() => resolvePluginAppOptions(clientWith(), options({ servedTasks }))),
      ).toContain("Invalid servedTasks: must be an object");
    }
    expect(() =>
      resolvePluginAppOptions(clientWith(), options({ servedTasks: { maxTasks: 5 } })),
    ).not.toThrow();
  });

  it("refuses a servedTasks option it does not know, naming it", () => {
    const servedTasks = { maxTask: 5 } as unknown as PluginAppOptions["servedTasks"];
    const message = validationMessage(() =>
      resolvePluginAppOptions(clientWith(), options({ servedTasks })),
    );
    expect(message).toContain("servedTasks.maxTask");
    expect(message).toContain("maxTasks, endedRetentionMs");
  });

  it("refuses something that is not a plugin service", () => {
    expect(() => resolvePluginAppOptions({} as LocalPluginClient, options())).toThrow(/service/);
  });
});
