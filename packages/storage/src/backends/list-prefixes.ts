import type { ListOptions, ObjectInfo, RemoteBackend } from "./types.js";

/**
 * The distinct folder names directly under `prefix` found in a recursive listing of it (keys
 * in lexicographic order): each name once, as soon as its first key arrives. The keys of one
 * folder list together, so only the last name is remembered: memory stays bounded however
 * many keys there are, at the cost of reading past every key of each folder.
 */
export async function* folderNamesOf(
  keys: AsyncIterable<ObjectInfo>,
  prefix: string,
): AsyncGenerator<string> {
  let last: string | undefined;
  for await (const { key } of keys) {
    if (!key.startsWith(prefix)) continue;
    const end = key.indexOf("/", prefix.length);
    if (end < 0) continue; // a key directly under the prefix, not a folder
    const name = key.slice(prefix.length, end);
    if (name === last) continue;
    last = name;
    yield name;
  }
}

/**
 * `backend.listPrefixes(prefix)`, or, for a backend without it (one not made with
 * `defineBackend`), the same names found by walking `backend.list(prefix)`.
 */
export function listPrefixesOf(
  backend: RemoteBackend,
  prefix: string,
  options: ListOptions = {},
): AsyncIterable<string> {
  if (backend.listPrefixes) return backend.listPrefixes(prefix, options);
  return limited(folderNamesOf(backend.list(prefix, { signal: options.signal }), prefix), options);
}

async function* limited(names: AsyncIterable<string>, { limit }: ListOptions) {
  let left = limit ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  for await (const name of names) {
    yield name;
    if (--left <= 0) return;
  }
}
