/** Options for {@link tokenize}. */
export interface TokenizeOptions {
  /** Stop after this many tokens per document (header tokens included). Default 2,500. */
  maxTokens?: number;
  /** Only the first this-many characters of the body are read. Default 60,000. */
  maxBodyChars?: number;
}

const DEFAULT_MAX_TOKENS = 2500;
const DEFAULT_MAX_BODY_CHARS = 60_000;
const MIN_WORD = 2;
const MAX_WORD = 24;

const HEADER_LINE = /^(?:From |[A-Za-z][A-Za-z0-9-]*:)/;
const ENCODED_WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
const URL_PATTERN =
  /\b(?:https?|ftp):\/\/([a-z0-9.-]+)[^\s"'<>()]*|\bwww\.([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi;
const EMAIL_PATTERN = /[a-z0-9._%+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi;
const BASE64_BLOCK = /(?:^[A-Za-z0-9+/]{40,}={0,2}\r?\n){3,}(?:^[A-Za-z0-9+/]*={0,2}$)?/gm;
const HTML_COMMENT = /<!--[\s\S]*?-->/g;
const HTML_NON_TEXT = /<(style|script)\b[\s\S]*?<\/\1\s*>/gi;
const HTML_TAG = /<\/?[a-z!][^>]*>/gi;
const HTML_ENTITY = /&(?:#\d+|#x[0-9a-f]+|[a-z]+);/gi;
const TOKEN_PATTERN = /\$\s?\d[\d,.]*|\d[\d,.:/-]*|[\p{L}][\p{L}\p{N}'_-]*|!+/gu;
const WORD_PATTERN = /[\p{L}][\p{L}\p{N}'_-]*/gu;

/** Decodes RFC 2047 encoded words (`=?charset?B|Q?...?=`) in a header value, best effort. */
function decodeHeader(value: string): string {
  if (!value.includes("=?")) return value;
  return value.replace(ENCODED_WORD, (_match, _charset: string, encoding: string, data: string) => {
    if (encoding.toUpperCase() === "B") return Buffer.from(data, "base64").toString("latin1");
    return data
      .replace(/_/g, " ")
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
        String.fromCharCode(Number.parseInt(hex, 16)),
      );
  });
}

/** Splits raw email text into unfolded header fields (lower-cased names) and the body. */
function splitEmail(text: string): { headers: Map<string, string>; body: string } {
  const headers = new Map<string, string>();
  const firstNewline = text.indexOf("\n");
  const firstLine = firstNewline === -1 ? text : text.slice(0, firstNewline);
  if (!HEADER_LINE.test(firstLine)) return { headers, body: text };
  let end = text.search(/\r?\n\r?\n/);
  if (end === -1) end = text.length;
  const headerBlock = text.slice(0, end);
  const body = text.slice(end).replace(/^\s+/, "");
  let name = "";
  let value = "";
  const flush = () => {
    if (name !== "" && !headers.has(name)) headers.set(name, value.trim());
  };
  for (const line of headerBlock.split(/\r?\n/)) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      value += ` ${line.trim()}`;
      continue;
    }
    flush();
    const colon = line.indexOf(":");
    if (colon <= 0 || line.startsWith("From ")) {
      name = "";
      continue;
    }
    name = line.slice(0, colon).toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return { headers, body };
}

/** Decodes quoted-printable soft line breaks and `=XX` escapes. */
function decodeQuotedPrintable(body: string): string {
  return body
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Replaces base64 blocks by their decoded text, or by a `__binary__` marker if not textual. */
function decodeBase64Blocks(body: string, out: string[]): string {
  return body.replace(BASE64_BLOCK, (block) => {
    const decoded = Buffer.from(block.replace(/\s+/g, ""), "base64").toString("latin1");
    let printable = 0;
    const sample = Math.min(decoded.length, 2000);
    for (let i = 0; i < sample; i++) {
      const code = decoded.charCodeAt(i);
      if ((code >= 32 && code < 127) || code === 9 || code === 10 || code === 13 || code >= 160) {
        printable++;
      }
    }
    if (sample > 0 && printable / sample > 0.95) return `\n${decoded}\n`;
    out.push("__binary__");
    return " ";
  });
}

/** The last two labels of a host name (`mail.foo.example.com` → `example.com`); IPs → `__ip__`. */
function siteOf(host: string): string {
  const clean = host.toLowerCase().replace(/\.+$/, "");
  if (/^[\d.]+$/.test(clean)) return "__ip__";
  return clean.split(".").slice(-2).join(".");
}

/** Emits `prefix + word` for every word in a header value. */
function headerWords(prefix: string, value: string, out: string[]): void {
  for (const match of value.matchAll(WORD_PATTERN)) {
    const word = match[0].toLowerCase();
    if (word.length >= MIN_WORD && word.length <= MAX_WORD) out.push(prefix + word);
  }
}

function headerTokens(headers: Map<string, string>, out: string[]): void {
  const subject = headers.get("subject");
  if (subject !== undefined) {
    const decoded = decodeHeader(subject);
    if (decoded !== subject) out.push("subject:__encoded__");
    headerWords("subject:", decoded, out);
    if (decoded.includes("!")) out.push("subject:__bang__");
    if (/\$\s?\d/.test(decoded)) out.push("subject:__money__");
    const letters = decoded.replace(/[^A-Za-z]/g, "");
    if (letters.length >= 6 && letters === letters.toUpperCase()) out.push("subject:__caps__");
  } else if (headers.size > 0) {
    out.push("subject:__none__");
  }
  const from = headers.get("from");
  if (from !== undefined) {
    const domain = /@([A-Za-z0-9.-]+)/.exec(from)?.[1];
    if (domain !== undefined) {
      out.push(`from:${siteOf(domain)}`);
      out.push(`from-tld:${domain.toLowerCase().split(".").pop()}`);
    }
    headerWords("from-name:", decodeHeader(from.replace(/<[^>]*>|\S+@\S+/g, " ")), out);
  }
  const contentType = headers.get("content-type");
  if (contentType !== undefined) {
    const mime = /^\s*([a-z]+\/[a-z0-9.+-]+)/i.exec(contentType)?.[1];
    if (mime !== undefined) out.push(`content-type:${mime.toLowerCase()}`);
    const charset = /charset="?([^";\s]+)/i.exec(contentType)?.[1];
    if (charset !== undefined) out.push(`charset:${charset.toLowerCase()}`);
  }
  const mailer = headers.get("x-mailer") ?? headers.get("user-agent");
  if (mailer !== undefined) {
    const name = /[A-Za-z][A-Za-z-]*/.exec(mailer)?.[0];
    if (name !== undefined) out.push(`mailer:${name.toLowerCase()}`);
  }
  if (headers.has("reply-to")) out.push("header:reply-to");
}

/**
 * Turns a raw email (or plain text) into tokens for a bag-of-words model.
 *
 * Headers: `subject:<word>`, `from:<domain>`, `from-tld:<tld>`, `from-name:<word>`,
 * `content-type:<mime>`, `charset:<name>`, `mailer:<name>`, `header:reply-to`. Routing and
 * mailing-list headers are ignored on purpose (they identify the corpus rather than the mail).
 * Body: quoted-printable and textual base64 are decoded, HTML comments/style/script dropped and
 * tags stripped (`__html__`), URLs become `__url__` + `url:<domain>`, email addresses
 * `__email__`, numbers `__num__`, amounts `__money__`, runs of `!` `__bang__`, shouted words add
 * `__caps__`, and words are lower-cased (2–24 letters; longer ones become `__long__`).
 * Output is capped at `maxTokens`.
 */
export function tokenize(text: string, options: TokenizeOptions = {}): string[] {
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const maxBodyChars = options.maxBodyChars ?? DEFAULT_MAX_BODY_CHARS;
  const out: string[] = [];
  const { headers, body: rawBody } = splitEmail(text);
  headerTokens(headers, out);

  let body = rawBody.length > maxBodyChars ? rawBody.slice(0, maxBodyChars) : rawBody;
  if (/quoted-printable/i.test(text)) body = decodeQuotedPrintable(body);
  if (/base64/i.test(text)) body = decodeBase64Blocks(body, out);

  if (/<[a-z!/][^>]*>/i.test(body)) {
    out.push("__html__");
    body = body.replace(HTML_COMMENT, " ").replace(HTML_NON_TEXT, " ");
  }
  body = body.replace(URL_PATTERN, (_match, host?: string, wwwHost?: string) => {
    out.push("__url__", `url:${siteOf(host ?? wwwHost ?? "")}`);
    return " ";
  });
  body = body.replace(EMAIL_PATTERN, () => {
    out.push("__email__");
    return " ";
  });
  body = body.replace(HTML_TAG, " ").replace(HTML_ENTITY, " ");

  for (const match of body.matchAll(TOKEN_PATTERN)) {
    if (out.length >= maxTokens) break;
    const token = match[0];
    const first = token.charCodeAt(0);
    if (first === 36 /* $ */) {
      out.push("__money__");
    } else if (first >= 48 && first <= 57) {
      out.push("__num__");
    } else if (first === 33 /* ! */) {
      out.push("__bang__");
    } else {
      const word = token.replace(/['_-]+$/, "");
      if (word.length < MIN_WORD) continue;
      if (word.length > MAX_WORD) {
        out.push("__long__");
        continue;
      }
      const lower = word.toLowerCase();
      if (word.length >= 3 && word !== lower && word === word.toUpperCase()) out.push("__caps__");
      out.push(lower);
    }
  }
  if (out.length > maxTokens) out.length = maxTokens;
  return out;
}
