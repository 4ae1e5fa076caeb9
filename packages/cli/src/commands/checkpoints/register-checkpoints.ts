import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { registerDelete } from "./delete.js";
import { registerSteamshipTransfer } from "./import-export.js";
import { registerList } from "./list.js";
import { registerPrune } from "./prune.js";
import { registerPull } from "./pull.js";
import { registerPush } from "./push.js";
import { registerShow } from "./show.js";
import { registerVerify } from "./verify.js";

/** `trainable checkpoints list|show|push|pull|import|export|delete|prune|verify`. */
export function registerCheckpoints(program: Command, ctx: () => CliContext): void {
  const cmd = program
    .command("checkpoints")
    .description(
      "list, show, push, pull, import, export, delete, prune and verify the checkpoints of a plugin instance",
    );
  registerList(cmd, ctx);
  registerShow(cmd, ctx);
  registerPush(cmd, ctx);
  registerPull(cmd, ctx);
  registerDelete(cmd, ctx);
  registerPrune(cmd, ctx);
  registerVerify(cmd, ctx);
  registerSteamshipTransfer(cmd, ctx);
}
