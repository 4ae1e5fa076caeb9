/** Where the cache reports what it did (repairs, broken locks, evictions). All optional. */
export interface CacheLogger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}
