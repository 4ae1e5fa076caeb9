import { KeywordTagger } from "./keyword-tagger.js";

/** The plugin the `trainable` CLI loads: `trainable train --plugin ./dist/plugin.js …`. */
export default new KeywordTagger();
