import { describe, expect, it } from "vitest";
import { scrubPaths } from "./read-only-view.js";

const cwd = "/srv/project";

describe("scrubPaths", () => {
  it.each([
    ["cannot open /home/alice/data/x.csv", "cannot open …/x.csv"],
    ["open '/home/alice/x.csv': ENOENT", "open '…/x.csv': ENOENT"],
    ['{"path":"/home/alice/x.csv"}', '{"path":"…/x.csv"}'],
    ["at f (/home/alice/app/m.js:3:9)", "at f (…/m.js:3:9)"],
    ["data=/home/alice/x.csv,dir=/var/tmp/y", "data=…/x.csv,dir=…/y"],
    ["/home/alice/x.csv", "…/x.csv"],
    ["cache file:///home/alice/.cache/m%20v1", "cache …/m v1"],
    ["wrote /srv/project/out/model.bin", "wrote out/model.bin"],
    ["in /srv/project", "in ."],
    ["tried C:\\Users\\alice\\y.csv and D:/data/z.csv", "tried …/y.csv and …/z.csv"],
    ["share \\\\server\\alice\\w.csv", "share …/w.csv"],
  ])("%j → %j", (text, shown) => {
    expect(scrubPaths(text, cwd)).toBe(shown);
  });

  it.each([
    "3/4 epochs, 10 MB/s",
    "see https://example.com/home/alice and s3://bucket/home/alice",
    "loss / accuracy: 0.5 / 0.9",
    "and/or ~/data",
    "a//b",
  ])("leaves %j alone (no absolute path in it)", (text) => {
    expect(scrubPaths(text, cwd)).toBe(text);
  });
});
