import { ExternalClassifier } from "./external-classifier.js";

/** The plugin the `trainable` CLI loads: `trainable train --plugin ./dist/plugin.js …`. */
export default new ExternalClassifier();
