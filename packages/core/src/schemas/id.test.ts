import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isValidId } from "../ids/validate-id.js";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import { Id } from "./id.js";

describe("Id schema", () => {
  it.each(["a", "default", "my-tagger", "epoch_23", "V1.2", `a${"b".repeat(127)}`])(
    "accepts %j",
    (id) => {
      expect(Id.parse(id)).toBe(id);
    },
  );

  it.each(["", "../x", "a/b", ".x", "-x", "_x", "a b", "é", "a\u0000", `a${"b".repeat(128)}`])(
    "rejects %j with a message about the allowed characters",
    (id) => {
      const error = expectIssuePaths(Id, id, ["(root)"], "handle");
      expect(error.issues[0]?.message).toContain("must start with a letter or digit");
    },
  );

  it.each([undefined, null, 1, {}, []])("rejects the non-string %j", (value) => {
    expect(Id.safeParse(value).success).toBe(false);
  });

  it("lists each bad id inside an object", () => {
    const schema = Id.array();
    expectIssuePaths(schema, ["ok", "../x", "fine", "a/b"], ["[1]", "[3]"], "handles");
  });

  it("agrees with validateId on every string", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 140 }), fc.stringMatching(/^[A-Za-z0-9._/-]{0,130}$/)),
        (value) => {
          expect(Id.safeParse(value).success).toBe(isValidId(value));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
