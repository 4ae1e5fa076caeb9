export { CliContext, type GlobalOptions } from "./context.js";
export type { CliIo } from "./io.js";
export { CLI_VERSION, EXIT, main } from "./main.js";
