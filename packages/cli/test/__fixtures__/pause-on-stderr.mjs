// Loaded into a spawned `trainable` with `node --import`: the first time the process writes
// PAUSE_ON_TEXT to stderr, it stops (blocked reading the FIFO PAUSE_FIFO) until the test
// closes the FIFO's write end — a deterministic point for the test to send it a signal, which
// the process handles as soon as it runs again.
import { readFileSync } from "node:fs";

const text = process.env.PAUSE_ON_TEXT;
const fifo = process.env.PAUSE_FIFO;
if (text && fifo) {
  const write = process.stderr.write.bind(process.stderr);
  let paused = false;
  process.stderr.write = (chunk, ...rest) => {
    const written = write(chunk, ...rest);
    if (!paused && String(chunk).includes(text)) {
      paused = true;
      readFileSync(fifo);
    }
    return written;
  };
}
