import { DEFAULT_HANDLE, type Id, NotFoundError, ValidationError } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { openEngine } from "../engine.js";
import { idFlag } from "../id-flag.js";
import { readTextFile } from "../parse-flags.js";

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
function toInput(text: string, routeAlias: string | undefined, flag: string): unknown {
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
    flag,
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
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .option(
      "--handle <name>",
      "checkpoint handle to serve",
      idFlag("--handle"),
      DEFAULT_HANDLE as Id,
    )
    .option(
      "--input <text|->",
      "the input itself, or - for stdin (JSON is passed as the request data); always text, never read as a file",
    )
    .option("--input-file <path>", "read the input from this file")
    .action(
      async (o: {
        plugin: string;
        instance: Id;
        handle: Id;
        input?: string;
        inputFile?: string;
      }) => {
        const c = ctx();
        const instanceId = o.instance;
        const handle = o.handle;
        if ((o.input === undefined) === (o.inputFile === undefined)) {
          throw ValidationError.forField(
            "cli",
            "--input",
            "give exactly one of --input <text|-> and --input-file <path>",
          );
        }
        const flag = o.inputFile === undefined ? "--input" : "--input-file";
        let text: string;
        if (o.inputFile !== undefined) text = readTextFile(o.inputFile, "--input-file", c.io.cwd);
        else if (o.input === "-") text = await readStdin(c.io.stdin);
        else text = o.input as string;
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
        const output = await engine.run(
          instanceId,
          toInput(text, plugin.service.routeAlias, flag),
          {
            handle,
          },
        );
        c.print(output, () => JSON.stringify(output, null, 2));
      },
    );
}
