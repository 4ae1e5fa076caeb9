import { SpamClassifier } from "./spam-classifier-plugin.js";

/** The plugin the `trainable` CLI loads: `trainable train --plugin ./dist/plugin.js …`. */
export default new SpamClassifier();
