import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TrainableError } from "@trainable/core";

/** A file of the page, held in memory (the bundle is a few hundred KiB). */
export interface Asset {
  body: Uint8Array;
  type: string;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * Where the built page lives: `dist/dashboard/` beside the CLI's bundle (this module is
 * bundled into `dist/`), or, running from the sources (tests), the package's `dist/dashboard/`.
 */
function defaultAssetsDir(): string[] {
  return [
    fileURLToPath(new URL("./dashboard/", import.meta.url)),
    fileURLToPath(new URL("../../dist/dashboard/", import.meta.url)),
  ];
}

/** Reads the page's files (built by `tsup --config tsup.web.config.ts`) into memory. */
export async function loadAssets(dirs = defaultAssetsDir()): Promise<Map<string, Asset>> {
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => undefined);
    if (!names?.includes("app.js")) continue;
    const assets = new Map<string, Asset>();
    for (const name of names) {
      const type = TYPES[name.slice(name.lastIndexOf("."))];
      if (!type || !/^[A-Za-z0-9_.-]+$/.test(name)) continue;
      assets.set(name, { body: await readFile(join(dir, name)), type });
    }
    return assets;
  }
  throw new TrainableError(
    "INTERNAL",
    `[cli] The dashboard's page is missing (no app.js in ${dirs.join(" or ")}): this build of @trainable/cli was made without it; rebuild the package (npm run build)`,
  );
}

/** The Content-Security-Policy of the page: its own scripts and styles only, no framing. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The page: a shell the script fills in (relative URLs, so it works at `/` and at `/ui/`). */
export function pageHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="./assets/app.css">
<script type="module" src="./assets/app.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the dashboard…</p></div>
<noscript>The trainable dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
