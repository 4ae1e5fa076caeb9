import { describe, expect, it } from "vitest";
import { PruneBody } from "./schemas.js";

describe("PruneBody", () => {
  it("accepts the CLI's rules and names what is wrong otherwise", () => {
    expect(PruneBody.parse({ keepLast: 2, dryRun: true })).toEqual({
      keepLast: 2,
      dryRun: true,
      mode: "max",
      protect: [],
      gcMinAgeMs: 3_600_000,
    });
    const issue = (body: unknown) => PruneBody.safeParse(body).error?.issues[0]?.path.join(".");
    expect(issue({ dryRun: true })).toBe("keepLast");
    expect(issue({ keepBest: 1, dryRun: true })).toBe("metric");
    expect(issue({ keepLast: 1.5, dryRun: true })).toBe("keepLast");
    expect(issue({ keepLast: 1, dryRun: "yes" })).toBe("dryRun");
    expect(issue({ keepLast: 1, dryRun: true, mode: "median" })).toBe("mode");
    expect(issue({ keepLast: 1, dryRun: true, protect: ["a/b"] })).toBe("protect.0");
    expect(issue({ keepLast: 1, dryRun: true, gcMinAgeMs: -1 })).toBe("gcMinAgeMs");
    expect(issue({ keepLast: 1, dryRun: false, expectDeleted: "v1" })).toBe("expectDeleted");
  });
});
