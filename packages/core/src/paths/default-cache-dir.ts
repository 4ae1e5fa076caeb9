import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/**
 * The disk cache folder used when `diskDir` is not given: `$TRAINABLE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/trainable`, else `~/.cache/trainable`. Empty variables are ignored, and a
 * relative `XDG_CACHE_HOME` is ignored as the XDG spec requires.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.TRAINABLE_CACHE_DIR;
  if (explicit) return resolve(explicit);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "trainable");
  return join(homedir(), ".cache", "trainable");
}
