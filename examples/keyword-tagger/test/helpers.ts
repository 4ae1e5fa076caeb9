import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache } from "@trainable/cache";
import { createLocalEngine } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { KeywordTagger } from "../src/index.js";

/** A temp dir with a file: store, a model cache and a local engine running the keyword tagger. */
export async function setup(options: { revalidateMs?: number } = {}) {
  const root = await mkdtemp(join(tmpdir(), "keyword-tagger-"));
  const store = await createCheckpointStore({
    url: pathToFileURL(join(root, "store")).href,
    workspace: "examples",
  });
  const cache = createModelCache({
    store,
    diskDir: join(root, "cache"),
    revalidateMs: options.revalidateMs ?? 5_000,
  });
  const engine = await createLocalEngine({ store, cache, dataDir: join(root, "engine") });
  engine.registerPlugin("keyword-tagger", new KeywordTagger());
  return {
    root,
    store,
    cache,
    engine,
    async cleanup() {
      await engine.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export const file = (...texts: string[]) => ({
  file: { blocks: texts.map((text, i) => ({ id: `b${i + 1}`, text })) },
});
