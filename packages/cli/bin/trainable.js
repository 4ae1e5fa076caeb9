#!/usr/bin/env node
// The `trainable` command. A committed launcher rather than `dist/bin.js` itself: pnpm links a
// workspace package's bin only when its file exists at install time, and `dist/` exists only
// after the build — so with the bin in `dist/`, a fresh clone never got `node_modules/.bin/trainable`.
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/bin.js", import.meta.url);
import(entry.href).catch((error) => {
  const notBuilt =
    error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes(fileURLToPath(entry));
  process.stderr.write(
    notBuilt
      ? "trainable: error: the CLI is not built yet: run `npx -y pnpm@10.34.9 build` at the repository root\n"
      : `trainable: error: ${error?.message ?? String(error)}\n`,
  );
  process.exitCode = 1;
});
