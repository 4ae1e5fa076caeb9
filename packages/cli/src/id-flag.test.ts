import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { idFlag, idListFlag } from "./id-flag.js";

describe("idFlag", () => {
  it("returns a valid id as it is", () => {
    expect(idFlag("--instance")("my-instance.1")).toBe("my-instance.1");
  });

  it("refuses a bad id with a ValidationError naming the flag", () => {
    const parse = idFlag("--handle");
    expect(() => parse("../x")).toThrow(ValidationError);
    expect(() => parse("../x")).toThrow(/--handle/);
    expect(() => parse("")).toThrow(/must not be empty/);
  });
});

describe("idListFlag", () => {
  it("splits on commas, trims items and drops empty ones", () => {
    expect(idListFlag("--protect")("a, b,,c")).toEqual(["a", "b", "c"]);
  });

  it("refuses the list when one item is bad, naming the flag", () => {
    expect(() => idListFlag("--protect")("a,b c")).toThrow(/--protect/);
  });
});
