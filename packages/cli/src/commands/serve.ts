import { ValidationError, validateId } from "@trainable/core";
import { servePlugin } from "@trainable/plugin-runtime";
import type { Command } from "commander";
import { type CliContext, parseIntFlag } from "../context.js";
import { openEngine } from "../engine.js";
import { asFlagError, parseJsonOrFile } from "../parse-flags.js";

/** `trainable serve`: the plugin's HTTP app (POST /run, /train, /getTrainingParameters, GET /health). */
export function registerServe(program: Command, ctx: () => CliContext): void {
  program
    .command("serve")
    .description(
      "serve a plugin over HTTP: POST /run (and its alias), /train, /getTrainingParameters, GET /health",
    )
    .requiredOption(
      "--plugin <module>",
      "plugin module: a path or package whose default export is the plugin service",
    )
    .option("--port <n>", "TCP port (0 picks a free one)", "8080")
    .option("--host <address>", "interface to listen on", "127.0.0.1")
    .option("--instance <id>", "create (or update) this plugin instance before serving")
    .option("--config <json|file>", "config of --instance")
    .action(
      async (o: {
        plugin: string;
        port: string;
        host: string;
        instance?: string;
        config?: string;
      }) => {
        const c = ctx();
        const port = parseIntFlag(o.port, "--port");
        if (port > 65535)
          throw ValidationError.forField("cli", "--port", `must be at most 65535, got ${port}`);
        const { engine, plugin } = await openEngine(c, o.plugin);
        if (o.instance) {
          const id = validateId(o.instance, "--instance");
          const config =
            o.config === undefined
              ? (engine.getInstance(id)?.config ?? {})
              : parseJsonOrFile(o.config, "--config", c.io.cwd);
          await engine
            .createInstance({ id, plugin: plugin.name, config, replace: true })
            .catch((error: unknown) => {
              throw o.config === undefined ? error : asFlagError(error, "--config");
            });
        }
        const served = await servePlugin(plugin.service, {
          store: engine.store,
          cache: engine.cache,
          instances: engine.instances,
          dataDir: c.dataDir,
          port,
          hostname: o.host,
        });
        c.print(
          { url: served.url, plugin: plugin.name },
          () => `serving ${plugin.name} on ${served.url} (Ctrl-C to stop)`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.removeListener("SIGINT", stop);
            process.removeListener("SIGTERM", stop);
            c.progress.message("shutting down (finishing in-flight requests)…");
            void served.close().then(resolve);
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      },
    );
}
