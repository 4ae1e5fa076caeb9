import { describe, expect, it } from "vitest";
import { tokenize } from "./tokenize.js";

const email = [
  "From spammer@example.com  Mon Jun 24 17:04:20 2002",
  "Received: from relay.example.net by mx.example.org",
  'From: "Best Deals" <offers@mail.cheap-pills.biz>',
  "Subject: FREE VIAGRA",
  "  NOW!",
  'Content-Type: text/html; charset="iso-8859-1"',
  "X-Mailer: Microsoft Outlook Express 6.0",
  "",
  '<html><body><p>Click <a href="http://www.cheap-pills.biz/buy?id=1">HERE</a> to save $25.00',
  "on 100 pills &amp; more. Write to sales@cheap-pills.biz!!!</p></body></html>",
].join("\n");

describe("tokenize", () => {
  it("turns selected headers into prefixed tokens and ignores routing headers", () => {
    const tokens = tokenize(email);
    expect(tokens).toEqual(
      expect.arrayContaining([
        "subject:free",
        "subject:viagra",
        "subject:now",
        "subject:__bang__",
        "subject:__caps__",
        "from:cheap-pills.biz",
        "from-tld:biz",
        "from-name:best",
        "content-type:text/html",
        "charset:iso-8859-1",
        "mailer:microsoft",
      ]),
    );
    expect(tokens.some((t) => t.includes("relay") || t.includes("received"))).toBe(false);
  });

  it("strips HTML and maps URLs, emails, numbers, money and shouting to class tokens", () => {
    const tokens = tokenize(email);
    expect(tokens).toContain("__html__");
    expect(tokens).toContain("__url__");
    expect(tokens).toContain("url:cheap-pills.biz");
    expect(tokens).toContain("__email__");
    expect(tokens).toContain("__money__");
    expect(tokens).toContain("__num__");
    expect(tokens).toContain("__bang__");
    expect(tokens).toContain("__caps__");
    expect(tokens).toEqual(
      expect.arrayContaining(["click", "here", "to", "save", "pills", "more"]),
    );
    expect(tokens.some((t) => /[<>]|^(?:href|body|amp)$/.test(t))).toBe(false);
  });

  it("treats text without headers as a plain body, lower-cased", () => {
    expect(tokenize("Hello World, meeting at 10")).toEqual([
      "hello",
      "world",
      "meeting",
      "at",
      "__num__",
    ]);
    expect(tokenize("")).toEqual([]);
  });

  it("decodes quoted-printable bodies", () => {
    const qp = "Subject: x\nContent-Transfer-Encoding: quoted-printable\n\nunsub=\nscribe caf=E9";
    expect(tokenize(qp)).toEqual(expect.arrayContaining(["unsubscribe", "café"]));
  });

  it("caps the number of tokens per document", () => {
    const long = "word ".repeat(10_000);
    expect(tokenize(long)).toHaveLength(2500);
    expect(tokenize(long, { maxTokens: 10 })).toHaveLength(10);
  });
});
