// Pack-and-install smoke test: packs every publishable package with pnpm (which rewrites
// `workspace:*` to real versions), installs the tarballs with npm into a fresh project outside
// the workspace, imports each package's public entry points and runs the `trainable` bin.
// Fails when a `workspace:` range survives packing, an export does not resolve, or the bin
// does not run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const pnpm = process.env.npm_execpath
  ? [process.execPath, process.env.npm_execpath]
  : ["npx", "-y", "pnpm@10.34.9"];
const work = mkdtempSync(join(tmpdir(), "trainable-smoke-"));
const packs = join(work, "packs");
const app = join(work, "app");
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });

function fail(message) {
  console.error(`smoke test FAILED: ${message}`);
  process.exit(1);
}

try {
  const packages = readdirSync(join(root, "packages")).filter((d) => {
    const pkg = JSON.parse(readFileSync(join(root, "packages", d, "package.json"), "utf8"));
    return !pkg.private;
  });
  const tarballs = [];
  for (const dir of packages) {
    const out = run(
      pnpm[0],
      [...pnpm.slice(1), "pack", "--pack-destination", packs],
      join(root, "packages", dir),
    );
    const tgz = out
      .trim()
      .split("\n")
      .filter((l) => l.endsWith(".tgz"))
      .at(-1);
    if (!tgz) fail(`pnpm pack printed no tarball for packages/${dir}`);
    const manifest = run("tar", ["-xzOf", tgz, "package/package.json"], root);
    if (manifest.includes("workspace:"))
      fail(`${tgz} still has a workspace: range in package.json`);
    tarballs.push(tgz);
  }
  console.log(`packed ${tarballs.length} packages`);

  run("mkdir", ["-p", app], work);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "smoke-app", private: true, type: "module" }),
  );
  run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      ...tarballs,
      "@aws-sdk/client-s3@3.1175.0",
      "@aws-sdk/lib-storage@3.1175.0",
    ],
    app,
  );

  writeFileSync(
    join(app, "check.mjs"),
    `
import assert from "node:assert/strict";
import { mkdtemp, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "@trainable/core";
import * as storage from "@trainable/storage";
import * as s3 from "@trainable/storage/s3";
import * as cache from "@trainable/cache";
import * as runtime from "@trainable/plugin-runtime";
import * as cli from "@trainable/cli";
import * as bullmqEngine from "@trainable/engine-bullmq";
import { createRequire } from "node:module";

assert.equal(typeof core.TrainableModel, "function");
assert.equal(core.DEFAULT_HANDLE, "default");
assert.equal(typeof core.validateId, "function");
assert.equal(typeof storage.createCheckpointStore, "function");
assert.equal(typeof s3.createS3Backend, "function");
assert.equal(typeof cache.createModelCache, "function");
assert.equal(typeof runtime.createPluginApp, "function");
assert.equal(typeof cli.main, "function");
assert.equal(typeof bullmqEngine.createBullmqWorker, "function");
// require() of the ESM packages works on Node >= 20.19
const require = createRequire(import.meta.url);
assert.equal(typeof require("@trainable/core").TrainableModel, "function");

// A real save/load through the installed packages, on the embedded file: backend.
class Echo extends core.TrainableModel {
  text = "";
  async saveToFolder(dir) { await writeFile(join(dir, "state.txt"), this.text); }
  async loadFromFolder(dir) { this.text = await readFile(join(dir, "state.txt"), "utf8"); }
  async train() { return { status: { state: "succeeded" } }; }
}
const dir = await mkdtemp(join(tmpdir(), "smoke-store-"));
const store = await storage.createCheckpointStore({ url: "file://" + dir, workspace: "smoke" });
const m = new Echo(); m.text = "hello";
const saved = await m.saveRemote({ store, pluginInstanceId: "echo", handle: "v1" });
const loaded = await Echo.loadRemote({ store, pluginInstanceId: "echo" });
assert.ok(loaded instanceof Echo);
assert.equal(loaded.text, "hello");
assert.ok(saved.archivePath.startsWith("smoke/echo/blobs/"), saved.archivePath);
assert.match(saved.archivePath.split("/").pop(), /^[0-9a-z]{9}-[0-9a-f]{16}[.]tar([.]gz)?$/);
assert.match(saved.ref.digest, /^sha256:[0-9a-f]{64}$/);
console.log("imports and round trip ok");
`,
  );
  process.stdout.write(run("node", ["check.mjs"], app));
  const help = run(join(app, "node_modules", ".bin", "trainable"), ["--help"], app);
  if (!/Usage:.*trainable/s.test(help)) fail(`trainable --help printed:\n${help}`);
  console.log("trainable --help ok");
  // The dashboard's page ships inside the package (no CDN): its bundle is in the tarball.
  const page = join(app, "node_modules", "@trainable", "cli", "dist", "dashboard", "app.js");
  if (!readFileSync(page, "utf8").includes("api/events")) fail(`no dashboard bundle at ${page}`);
  console.log("dashboard page packed ok");
  console.log("smoke test passed");
} finally {
  rmSync(work, { recursive: true, force: true });
}
