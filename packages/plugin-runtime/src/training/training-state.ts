import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Task, TrainableModel } from "@trainable/core";
import { exists, fsyncTree } from "@trainable/internal-node";

/** A training's kept state: its in-training model's folder and the plugin's last status. */
export interface KeptState {
  modelDir: string;
  status?: Task;
}

/**
 * Keeps a training's state — its model (`saveToFolder`) and the status the plugin just
 * answered — as one unit under `stateDir` (`model/`, `status.json`), replaced atomically
 * enough for a kill: the new unit is written and flushed beside the old, the old moved to
 * `.previous`, the new renamed into place; a reader takes `.previous` when the rename did
 * not happen.
 */
export async function persistState(
  model: TrainableModel<unknown>,
  status: Task,
  stateDir: string,
): Promise<void> {
  const tmp = `${stateDir}.${randomBytes(6).toString("hex")}.tmp`;
  const previous = `${stateDir}.previous`;
  await mkdir(join(tmp, "model"), { recursive: true });
  try {
    await model.saveToFolder(join(tmp, "model"));
    await writeFile(join(tmp, "status.json"), JSON.stringify(status));
    await fsyncTree(tmp);
    await rm(previous, { recursive: true, force: true });
    if (await exists(stateDir)) await rename(stateDir, previous);
    await rename(tmp, stateDir);
    await rm(previous, { recursive: true, force: true });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** The state kept under `stateDir` (or its `.previous`), if any. */
export async function readState(stateDir: string): Promise<KeptState | undefined> {
  for (const dir of [stateDir, `${stateDir}.previous`]) {
    if (!(await exists(join(dir, "model")))) continue;
    const status = await readFile(join(dir, "status.json"), "utf8").then(
      (text) => JSON.parse(text) as Task,
      () => undefined,
    );
    return { modelDir: join(dir, "model"), status };
  }
  return undefined;
}
