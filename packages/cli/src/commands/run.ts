import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { DEFAULT_HANDLE, NotFoundError, ValidationError, validateId } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { openEngine } from "../engine.js";

async function readStdin(stream: NodeJS.ReadableStream, limit = 64 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw ValidationError.forField("cli", "--input", `stdin is larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk as Buffer));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Turns `--input` text into the plugin's input: JSON as is, plain text by plugin type. */
function toInput(text: string, routeAlias: string | undefined): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // not JSON: plain text below
    }
  }
  if (routeAlias === "tag") return { file: { blocks: [{ text }] } };
  if (routeAlias === "classify") return { texts: [text] };
  throw ValidationError.forField(
    "cli",
    "--input",
    "this plugin takes JSON input (a plugin request's data object)",
  );
}

/** `trainable run`: inference through the cache with an instance's model. */
export function registerRun(program: Command, ctx: () => CliContext): void {
  program
    .command("run")
    .description("run a plugin instance on an input, with its model loaded through the cache")
    .requiredOption(
      "--plugin <module>",
      "plugin module: a path or package whose default export is the plugin service",
    )
    .requiredOption("--instance <id>", "plugin instance id")
    .option("--handle <name>", "checkpoint handle to serve", DEFAULT_HANDLE)
    .requiredOption(
      "--input <text|file|->",
      "input text, a file with the input, or - for stdin (JSON is passed as the request data)",
    )
    .action(async (o: { plugin: string; instance: string; handle: string; input: string }) => {
      const c = ctx();
      const instanceId = validateId(o.instance, "--instance");
      const handle = validateId(o.handle, "--handle");
      let text: string;
      if (o.input === "-") text = await readStdin(c.io.stdin);
      else {
        const path = isAbsolute(o.input) ? o.input : resolve(c.io.cwd, o.input);
        text = o.input.length < 4096 && existsSync(path) ? readFileSync(path, "utf8") : o.input;
      }
      const { engine, plugin } = await openEngine(c, o.plugin);
      if (!engine.getInstance(instanceId)) {
        // Serving needs no training history: make the instance on first use.
        await engine
          .createInstance({ id: instanceId, plugin: plugin.name, config: {} })
          .catch((error) => {
            throw new NotFoundError(
              `[cli] Cannot serve instance "${instanceId}": ${(error as Error).message}`,
              { cause: error },
            );
          });
      }
      const output = await engine.run(instanceId, toInput(text, plugin.service.routeAlias), {
        handle,
      });
      c.print(output, () => JSON.stringify(output, null, 2));
    });
}
