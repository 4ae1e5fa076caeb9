import { describe, expect, it } from "vitest";
import { z } from "zod";
import { compiledSchema } from "./compiled-schema.js";

describe("compiledSchema", () => {
  const Schema = z.object({
    id: z.string().max(4).optional(),
    items: z.array(z.object({ n: z.number().int() })),
  });

  it("parses as the schema does: the same output (unknown keys stripped) and the same errors", () => {
    const compiled = compiledSchema(Schema);
    const good = { id: "a", items: [{ n: 1, extra: true }], other: 1 };
    expect(compiled.parse(good)).toEqual(Schema.parse(good));
    expect(compiled.parse(good)).toEqual({ id: "a", items: [{ n: 1 }] });
    for (const bad of [{ items: [{ n: 1.5 }] }, { id: "toolong", items: [] }, { items: "x" }]) {
      const a = compiled.safeParse(bad);
      const b = Schema.safeParse(bad);
      expect(a.success).toBe(false);
      expect(a.error?.issues).toEqual(b.error?.issues);
    }
  });

  it("is the installed zod's compile when there is one (zod 4 releases before it: the schema)", () => {
    const compiled = compiledSchema(Schema);
    if (typeof (z as { compile?: unknown }).compile === "function") {
      expect(compiled).not.toBe(Schema);
    } else {
      expect(compiled).toBe(Schema);
    }
  });
});
