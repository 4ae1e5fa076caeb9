export { errno } from "./errno.js";
export { exists } from "./exists.js";
export {
  type FileLock,
  type LockInfo,
  type LockOptions,
  tryLock,
  type WaitForLockOptions,
  waitForLock,
} from "./file-lock.js";
export { fsyncPath, fsyncTree } from "./fsync.js";
export { canCheckPid, HOST, isProcessAlive, PID_NAMESPACE } from "./is-process-alive.js";
export { mapLimit } from "./map-limit.js";
export { readDirIfExists } from "./read-dir.js";
export { type WriteFileAtomicOptions, writeFileAtomic } from "./write-file-atomic.js";
