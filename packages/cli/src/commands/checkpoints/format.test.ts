import type { CheckpointRef } from "@trainable/core";
import type { VerifyResult } from "@trainable/storage";
import { describe, expect, it } from "vitest";
import { metrics, plural, table, verifyReport } from "./format.js";

describe("table", () => {
  it("pads every column to its widest cell and trims line ends", () => {
    expect(
      table([
        ["A", "BB", "C"],
        ["long", "x", ""],
      ]),
    ).toBe("A     BB  C\nlong  x");
  });
});

describe("metrics", () => {
  it("shows the first four numeric training results, rounded to 4 decimals", () => {
    const ref = {
      metadata: {
        trainingResults: { loss: 0.123456, note: "text", a: 1, b: 2, c: 3, d: 4 },
      },
    } as unknown as CheckpointRef;
    expect(metrics(ref)).toBe("loss=0.1235 a=1 b=2 c=3");
  });
});

describe("plural", () => {
  it("adds an s unless there is one", () => {
    expect(plural(1, "file")).toBe("1 file");
    expect(plural(0, "file")).toBe("0 files");
  });
});

describe("verifyReport", () => {
  const clean: VerifyResult = {
    checked: 0,
    ok: 0,
    bytes: 0,
    bad: [],
    unreferenced: 0,
    repaired: [],
  };

  it("says the empty message when nothing is stored", () => {
    expect(verifyReport(clean, false, "nothing here")).toBe("nothing here");
  });

  it("lists bad blobs and suggests --repair when some are not quarantined", () => {
    const result = {
      ...clean,
      checked: 2,
      ok: 1,
      bytes: 10,
      bad: [
        {
          archivePath: "blobs/x.tar",
          digest: undefined,
          handles: [],
          quarantined: false,
          reason: "[storage] digest mismatch",
        },
      ],
    } as unknown as VerifyResult;
    const text = verifyReport(result, false, "");
    expect(text).toContain("bad: blobs/x.tar  -  handles: none  not quarantined  digest mismatch");
    expect(text).toContain(
      "checked 2 blobs (10 bytes verified): 1 ok, 1 bad (0 quarantined), 0 unreferenced",
    );
    expect(text).toContain("run with --repair");
    expect(verifyReport(result, true, "")).not.toContain("run with --repair");
  });
});
