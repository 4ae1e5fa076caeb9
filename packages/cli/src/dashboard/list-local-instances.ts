import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isValidId, parseWith } from "@trainable/core";
import { EngineInstance } from "@trainable/plugin-runtime";

/**
 * The plugin instances of the local engine (`{dataDir}/instances/{id}.json`), by id. A file
 * that cannot be read is skipped and reported to `problem` (keyed by its path).
 */
export async function listLocalInstances(
  instancesDir: string,
  problem: (key: string, message: string) => void,
): Promise<EngineInstance[]> {
  const names = await readdir(instancesDir).catch(() => [] as string[]);
  const instances: EngineInstance[] = [];
  for (const name of names) {
    if (!name.endsWith(".json") || !isValidId(name.slice(0, -5))) continue;
    const file = join(instancesDir, name);
    try {
      const value = JSON.parse(await readFile(file, "utf8"));
      instances.push(parseWith(EngineInstance, value, file, "cli"));
    } catch (error) {
      problem(file, `skipped ${file}: ${error instanceof Error ? error.message : error}`);
    }
  }
  return instances.sort((a, b) => a.id.localeCompare(b.id));
}
