import { describe, expectTypeOf, it } from "vitest";
import type { Id } from "../schemas/id.js";
import { isValidId, validateId } from "./validate-id.js";

describe("Id", () => {
  it("is what validateId returns, and a plain string is not one", () => {
    expectTypeOf(validateId("a", "field")).toEqualTypeOf<Id>();
    expectTypeOf<string>().not.toMatchTypeOf<Id>();
    // An Id is still a string wherever one is wanted.
    expectTypeOf<Id>().toMatchTypeOf<string>();
  });

  it("is what isValidId narrows to", () => {
    const value: unknown = "a";
    if (isValidId(value)) expectTypeOf(value).toEqualTypeOf<Id>();
  });
});
