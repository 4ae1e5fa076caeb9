import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scrubPaths, shownPath } from "./read-only-view.js";

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

  describe("never shows a home directory's user name (working directory /home/alice/work)", () => {
    const home = "/home/alice/work";
    it.each([
      ["C:\\Users\\John Smith\\data.csv", "…/data.csv"],
      ["/Users/john smith/secret.csv", "…/secret.csv"],
      ["open '/Users/john smith/secret.csv'", "open '…/secret.csv'"],
      ["C:/Users/John Smith/data.csv", "…/data.csv"],
      ["at file://localhost/home/alice/data.csv", "at …/data.csv"],
      ["at file:///C:/Users/John%20Smith/x.csv", "at …/x.csv"],
      ["a|/home/alice/data.csv", "a|…/data.csv"],
      ["@/home/alice/data.csv", "@…/data.csv"],
      ["!/home/alice/data.csv", "!…/data.csv"],
      ["*/home/alice/data.csv", "*…/data.csv"],
      ["x->/home/alice/data.csv", "x->…/data.csv"],
      ["<b>/home/alice/x</b>", "<b>…/x</b>"],
      ["//home/alice/x", "…/x"],
      ["dir is /home/alice", "dir is …"],
      ["HOME=/home/alice", "HOME=…"],
      ["HOME=/home/alice/", "HOME=…"],
      ["dir is /Users/john smith", "dir is …"],
      ["/home/bob/docs/bob", "…"],
      ["/root/.cache/m.bin and /root", "…/m.bin and …"],
      ["~bob/data.csv and ~bob", "…/data.csv and …"],
      ["/tmp/x=/home/John Smith/y.csv", "…/x=…/y.csv"],
      ["wrote /home/alice/work/out/model.bin", "wrote out/model.bin"],
    ])("%j → %j", (text, shown) => {
      expect(scrubPaths(text, home)).toBe(shown);
    });

    it("shownPath: a home directory itself is only …", () => {
      expect(shownPath("/home/bob", home)).toBe("…");
      expect(shownPath("/home/alice", home)).toBe("…");
      expect(shownPath("/srv/store", home)).toBe("…/store");
    });

    it.each([
      "3/4 epochs, 10 MB/s",
      "see https://example.com/home/alice and s3://bucket/Users/alice/x",
      "a lone / and a//b",
      "and/or ~/data",
    ])("leaves %j alone", (text) => {
      expect(scrubPaths(text, home)).toBe(text);
    });

    it("property: a generated user name (spaces included) in a home path never shows", () => {
      const chars = [
        ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:_-=+!?*@#&()[]{}<>|'\"`/\\\n",
      ];
      const text = fc.string({ unit: fc.constantFrom(...chars), maxLength: 30 });
      const name = fc
        .stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,14}$/)
        .map((n) => n.trimEnd())
        .filter((n) => n.length >= 2);
      const tail = fc.array(fc.stringMatching(/^[a-z0-9_-][a-z0-9._-]{0,8}$/), { maxLength: 3 });
      const before = fc.constantFrom(
        " ",
        "\n",
        "(",
        "[",
        "{",
        "<",
        ">",
        '"',
        "'",
        "`",
        "|",
        ",",
        ";",
        "=",
        "@",
        "!",
        "*",
      );
      const after = fc.constantFrom(
        "",
        " ",
        "\n",
        ")",
        "]",
        "}",
        "<",
        '"',
        "'",
        "`",
        "|",
        ",",
        ";",
      );
      const form = fc.constantFrom(
        "/home/",
        "/Users/",
        "C:\\Users\\",
        "C:/Users/",
        "//home/",
        "file:///home/",
      );
      fc.assert(
        fc.property(text, before, form, name, tail, after, text, (pre, b, f, n, t, a, post) => {
          const sep = f.startsWith("C:\\") ? "\\" : "/";
          const rest = t.length ? `${sep}${t.join(sep)}` : "";
          const input = `${pre}${b}${f}${n}${rest}${a}${post}`;
          fc.pre(!`${pre}${b}`.includes(n) && !`${rest}${a}${post}`.includes(n));
          expect(scrubPaths(input, home)).not.toContain(n);
        }),
        { numRuns: 2000 },
      );
    });
  });
});
