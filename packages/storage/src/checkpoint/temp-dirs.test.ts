import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sweepStaleTempDirs, TEMP_DIR_OWNER, withTempDir } from "./temp-dirs.js";

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "trainable-temp-dirs-"));
  roots.push(root);
  return root;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const { pid } = spawnSync("true");
  if (!pid) throw new Error("could not run true");
  return pid;
}

/** Plants a temp folder named as a store names them, holding one file. */
async function plant(root: string, name: string): Promise<string> {
  await mkdir(join(root, name, "weights"), { recursive: true });
  await writeFile(join(root, name, "weights", "layer.bin"), "x".repeat(1000));
  return name;
}

describe("store temp folders", () => {
  it("a sweep removes only the folders of this machine's processes that are gone", async () => {
    const root = await tempRoot();
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      const dead = await plant(root, `trainable-save-${TEMP_DIR_OWNER}-${deadPid()}-aB3dE9`);
      const deadLoad = await plant(root, `trainable-load-${TEMP_DIR_OWNER}-${deadPid()}-Zz0000`);
      const kept = [
        await plant(root, `trainable-save-${TEMP_DIR_OWNER}-${sleeper.pid}-aB3dE9`), // alive
        await plant(root, `trainable-save-${TEMP_DIR_OWNER}-${process.pid}-qwerty`), // this process
        await plant(root, `trainable-save-other-machine-${deadPid()}-aB3dE9`), // another host
        // Another pid namespace of this host (a container sharing the temp dir).
        await plant(root, `trainable-save-${TEMP_DIR_OWNER}0-${deadPid()}-aB3dE9`),
        await plant(root, "trainable-save-aB3dE9"), // an older version's name: owner unknown
        await plant(root, `my-files-${TEMP_DIR_OWNER}-${deadPid()}-aB3dE9`), // not ours
      ];
      expect(await sweepStaleTempDirs(root)).toBe(2);
      const left = await readdir(root);
      expect(left.sort()).toEqual([...kept].sort());
      expect(left).not.toContain(dead);
      expect(left).not.toContain(deadLoad);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("the first temp folder of a process sweeps; each is named after its host and pid and removed after use, even on a throw", async () => {
    const root = await tempRoot();
    const stale = await plant(root, `trainable-save-${TEMP_DIR_OWNER}-${deadPid()}-aB3dE9`);
    let seen = "";
    await withTempDir(root, "save", async (dir) => {
      seen = basename(dir);
      expect(await readdir(root)).not.toContain(stale);
    });
    expect(seen).toMatch(
      new RegExp(`^trainable-save-${TEMP_DIR_OWNER}-${process.pid}-[A-Za-z0-9]{6}$`),
    );
    await expect(
      withTempDir(root, "load", async (dir) => {
        await writeFile(join(dir, "f"), "x");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await readdir(root)).toEqual([]);
  });

  it("a missing or unreadable root sweeps nothing and throws nothing", async () => {
    const root = await tempRoot();
    expect(await sweepStaleTempDirs(join(root, "missing"))).toBe(0);
    await writeFile(join(root, "file"), "");
    expect(await sweepStaleTempDirs(join(root, "file"))).toBe(0);
  });
});
