// `@trainable/storage/archive`: the checkpoint archive format's building blocks — canonical
// packing, byte-exact extraction with its safety checks, the manifest — for tools that craft
// or inspect archives. Saving and loading checkpoints needs none of this: use the store.
export { entryPathProblem } from "./archive/entry-path-problem.js";
export {
  type ExtractArchiveOptions,
  extractArchive,
  verifyArchive,
} from "./archive/extract-archive.js";
export {
  type ManifestEntry,
  ManifestWriter,
  manifestLine,
  readManifestEntries,
} from "./archive/manifest.js";
export { type PackFolderOptions, type PackResult, packFolder } from "./archive/pack-folder.js";
export { type FolderEntry, type WalkFolderOptions, walkFolder } from "./archive/walk-folder.js";
