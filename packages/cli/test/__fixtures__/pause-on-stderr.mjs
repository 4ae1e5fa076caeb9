// Loaded into a spawned `trainable` with `node --import`: each time the process writes the
// next of the texts in PAUSE_ON_TEXT (separated by "|") to stderr, it stops (blocked reading
// the FIFO PAUSE_FIFO) until the test closes the FIFO's write end — deterministic points for
// the test to send it a signal, which the process handles as soon as it runs again.
import { readFileSync } from "node:fs";

const texts = process.env.PAUSE_ON_TEXT?.split("|") ?? [];
const fifo = process.env.PAUSE_FIFO;
if (texts.length > 0 && fifo) {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    const written = write(chunk, ...rest);
    if (texts.length > 0 && String(chunk).includes(texts[0])) {
      texts.shift();
      readFileSync(fifo);
    }
    return written;
  };
}
