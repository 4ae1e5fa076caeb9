#!/usr/bin/env node
// The `trainable` command. A committed launcher rather than `dist/bin.js` itself: pnpm links a
// workspace package's bin only when its file exists at install time, and `dist/` exists only
// after the build — so with the bin in `dist/`, a fresh clone never got `node_modules/.bin/trainable`.
import("../dist/bin.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist")) {
    process.stderr.write(
      "trainable: error: the CLI is not built yet: run `npx -y pnpm@10.34.9 build` at the repository root\n",
    );
  } else {
    process.stderr.write(`trainable: error: ${error?.message ?? String(error)}\n`);
  }
  process.exitCode = 1;
});
