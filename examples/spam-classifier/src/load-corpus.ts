import { loadSpamAssassin } from "./load-spam-assassin.js";
import { readJsonlCorpus } from "./read-jsonl-corpus.js";
import type { LabeledEmail } from "./types.js";

/**
 * Loads training data: the built-in SpamAssassin corpus when `trainingDataUrl` is empty or
 * undefined, otherwise a JSONL file (`{"text","label"}` per line) at a local path or `file:` URL.
 */
export async function loadCorpus(trainingDataUrl?: string | URL): Promise<LabeledEmail[]> {
  if (trainingDataUrl === undefined || trainingDataUrl === "") return loadSpamAssassin();
  const examples: LabeledEmail[] = [];
  for await (const example of readJsonlCorpus(trainingDataUrl)) examples.push(example);
  return examples;
}
