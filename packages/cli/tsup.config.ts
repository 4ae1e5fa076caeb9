import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { baseConfig } from "../../tsup.config.base";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

export default defineConfig(
  baseConfig(
    { index: "src/index.ts", bin: "src/bin.ts" },
    // `trainable --version` prints the version this build was made from.
    { define: { __TRAINABLE_CLI_VERSION__: JSON.stringify(version) } },
  ),
);
