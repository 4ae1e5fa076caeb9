#!/usr/bin/env node
import { main } from "./main.js";

// The AWS SDK warns on every start under Node 20 that its releases after January 2027 need
// Node 22; we pin an SDK release that supports Node 20, so the notice is noise in a CLI whose
// errors are one line. Every other warning is printed as Node would.
const nodeWarning = process.listeners("warning");
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (
    warning.name === "NodeVersionSupportWarning" ||
    /NodeVersionSupportWarning/.test(warning.message)
  ) {
    return;
  }
  for (const listener of nodeWarning) listener.call(process, warning);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(
      `trainable: error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
