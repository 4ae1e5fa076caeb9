import type { CliContext } from "./context.js";

/** The exit code of a command stopped by Ctrl-C: 128 + SIGINT, as shells report it. */
const INTERRUPTED_EXIT = 130;

/**
 * Runs `use` with a signal the first Ctrl-C (SIGINT) aborts, instead of Node's default of
 * ending the process at once: the command stops at its next step, undoes what it promised to
 * undo, removes its temporary folders and fails with exit code 130. A second Ctrl-C quits at
 * once, saying `left` (what may be left behind).
 */
export async function withInterrupt<T>(
  c: CliContext,
  options: { what: string; left: string },
  use: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (!controller.signal.aborted) {
      c.progress.message(
        `interrupted: stopping ${options.what} and undoing it (Ctrl-C again to quit at once)…`,
      );
      controller.abort();
      return;
    }
    c.progress.done();
    c.io.stderr.write(`trainable: interrupted again: quit at once; ${options.left}\n`);
    process.exit(INTERRUPTED_EXIT);
  };
  process.on("SIGINT", onSignal);
  try {
    return await use(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) c.exitCode = INTERRUPTED_EXIT;
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
}
