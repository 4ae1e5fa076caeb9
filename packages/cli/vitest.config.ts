import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

export default defineConfig({
  // As tsup injects it in the build (see tsup.config.ts).
  define: { __TRAINABLE_CLI_VERSION__: JSON.stringify(version) },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"] },
    testTimeout: 60_000,
    reporters: reporters("cli"),
  },
});
