import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import {
  type CheckpointRef,
  DEFAULT_HANDLE,
  Id,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { CheckpointStoreImpl, VerifyResult } from "@trainable/storage";
import type { Command } from "commander";
import { z } from "zod";
import { type CliContext, parseIntFlag } from "../context.js";
import { fieldsAsFlags, parseFlags } from "../parse-flags.js";
import { heldBy, pullIntoFolder } from "../pull-into-folder.js";
import { userMessage } from "../user-error.js";
import { registerSteamshipTransfer } from "./checkpoints-steamship.js";

const PushFlags = z.object({
  instance: Id,
  handle: Id,
  dir: z.string().min(1),
  default: z.boolean(),
});
const PullFlags = z.object({
  instance: Id,
  handle: Id,
  dir: z.string().min(1),
  force: z.boolean().optional(),
});

function summary(ref: CheckpointRef) {
  return {
    handle: ref.handle,
    digest: ref.digest,
    size: ref.size,
    files: ref.fileCount,
    directories: ref.directoryCount,
    totalBytes: ref.totalBytes,
    createdAt: ref.createdAt,
    archivePath: ref.archivePath,
    trainingResults: ref.metadata.trainingResults,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function metrics(ref: CheckpointRef): string {
  const r = ref.metadata.trainingResults ?? {};
  return Object.entries(r)
    .filter(([, v]) => typeof v === "number")
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Number((v as number).toFixed(4))}`)
    .join(" ");
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** `checkpoints verify`'s human output: a line per bad blob, then a summary. */
function verifyReport(result: VerifyResult, repair: boolean, empty: string): string {
  if (result.checked === 0 && result.unreferenced === 0) return empty;
  const lines = result.bad.map((b) =>
    [
      `bad: ${b.archivePath}`,
      b.digest ?? "-",
      `handles: ${b.handles.join(", ") || "none"}`,
      b.quarantined ? "quarantined" : "not quarantined",
      userMessage(b.reason),
    ].join("  "),
  );
  const quarantined = result.bad.filter((b) => b.quarantined).length;
  lines.push(
    `checked ${plural(result.checked, "blob")} (${result.bytes} bytes verified): ${result.ok} ok, ` +
      `${result.bad.length} bad${result.bad.length ? ` (${quarantined} quarantined)` : ""}, ` +
      `${result.unreferenced} unreferenced`,
  );
  if (result.bad.length > quarantined && !repair) {
    lines.push("run with --repair to quarantine bad blobs so no save reuses them");
  }
  return lines.join("\n");
}

/** `store.prune`, its errors naming the command's flags (`--keep-last`), not option fields. */
function pruneNamingFlags(
  store: CheckpointStoreImpl,
  options: Parameters<CheckpointStoreImpl["prune"]>[0],
): ReturnType<CheckpointStoreImpl["prune"]> {
  return store.prune(options).catch((error: unknown) => {
    throw fieldsAsFlags(error, {
      keepLast: "--keep-last",
      keepBest: "--keep-best",
      metric: "--metric",
      protect: "--protect",
    });
  });
}

/** `trainable checkpoints list|show|push|pull|import|export|delete|prune|verify`. */
export function registerCheckpoints(program: Command, ctx: () => CliContext): void {
  const cmd = program
    .command("checkpoints")
    .description(
      "list, show, push, pull, import, export, delete, prune and verify the checkpoints of a plugin instance",
    );

  cmd
    .command("list")
    .description("list the handles of an instance with their checkpoints")
    .requiredOption("--instance <id>", "plugin instance id")
    .action(async (o: { instance: string }) => {
      const c = ctx();
      const store = await c.store();
      const refs = await store.list({ pluginInstanceId: validateId(o.instance, "--instance") });
      c.print(refs.map(summary), () => {
        if (refs.length === 0) return `no checkpoints for instance "${o.instance}" in ${c.remote}`;
        return table([
          ["HANDLE", "DIGEST", "SIZE", "CREATED", "METRICS"],
          ...refs.map((r) => [
            r.handle,
            r.digest.slice(7, 19),
            String(r.size),
            r.createdAt,
            metrics(r),
          ]),
        ]);
      });
    });

  cmd
    .command("show")
    .description("show one checkpoint's ref and manifest (files, directories, metadata, digest)")
    .requiredOption("--instance <id>", "plugin instance id")
    .option("--handle <name>", "checkpoint handle", DEFAULT_HANDLE)
    .action(async (o: { instance: string; handle: string }) => {
      const c = ctx();
      const store = await c.store();
      const pluginInstanceId = validateId(o.instance, "--instance");
      const ref = await store.resolve({
        pluginInstanceId,
        handle: validateId(o.handle, "--handle"),
      });
      const { files, directories } = await store.readManifest({ pluginInstanceId, ref });
      c.print({ ...ref, files, directories }, () =>
        [
          `handle:      ${ref.handle}`,
          `digest:      ${ref.digest}`,
          `archive:     ${ref.archivePath} (${ref.size} bytes, ${ref.compression})`,
          `manifest:    ${ref.manifestSize} bytes`,
          `created:     ${ref.createdAt}`,
          `parent:      ${ref.parent ?? "-"}`,
          `metadata:    ${JSON.stringify(ref.metadata)}`,
          `files (${ref.fileCount}, ${ref.totalBytes} bytes):`,
          ...files.slice(0, 50).map((f) => `  ${f.path}  ${f.size}  ${f.sha256.slice(0, 12)}`),
          ...(files.length > 50 ? [`  … ${files.length - 50} more`] : []),
          ...(directories.length > 0
            ? [
                `directories (${ref.directoryCount}):`,
                ...directories.slice(0, 50).map((d) => `  ${d}/`),
                ...(directories.length > 50 ? [`  … ${directories.length - 50} more`] : []),
              ]
            : []),
        ].join("\n"),
      );
    });

  cmd
    .command("push")
    .description("save a folder as a checkpoint (verified as a training save is), and move default")
    .argument("<dir>", "the model folder to save")
    .requiredOption("--instance <id>", "plugin instance id")
    .requiredOption("--handle <name>", "checkpoint handle to save to")
    .option("--no-default", "do not move the default handle to the new checkpoint")
    .action(async (dir: string, o: { instance: string; handle: string; default: boolean }) => {
      const c = ctx();
      const flags = parseFlags(PushFlags, { ...o, dir }, { dir: "<dir>" });
      const folder = isAbsolute(flags.dir) ? flags.dir : resolve(c.io.cwd, flags.dir);
      const info = await stat(folder).catch(() => undefined);
      if (!info?.isDirectory()) {
        throw ValidationError.forField("cli", "<dir>", `no folder at ${folder}`);
      }
      const held = await heldBy(folder, c.localStatePaths());
      if (held) {
        throw ValidationError.forField(
          "cli",
          "<dir>",
          `${folder} holds ${held.what} at ${held.path}: pushing it would store that too; push the model folder itself`,
        );
      }
      const store = await c.store();
      const { ref, defaultRef, uploadedBytes } = await store.save({
        pluginInstanceId: flags.instance,
        handle: flags.handle,
        folder,
        setAsDefault: flags.default,
      });
      c.print(
        { ...summary(ref), default: defaultRef !== undefined, uploadedBytes, path: folder },
        () =>
          `pushed ${folder} as ${ref.handle}${defaultRef ? " (default)" : ""}: ${ref.digest.slice(0, 19)}…, ${plural(ref.fileCount, "file")}, ${uploadedBytes} bytes uploaded`,
      );
    });

  cmd
    .command("pull")
    .description("download and verify a checkpoint into a folder (new or empty; --force replaces)")
    .argument("[dir]", "folder to pull into: created when missing, else it must be empty")
    .requiredOption("--instance <id>", "plugin instance id")
    .option("--handle <name>", "checkpoint handle", DEFAULT_HANDLE)
    .option("--out <dir>", "the folder, as a flag (same as [dir])")
    .option("--force", "replace the contents of a non-empty folder")
    .action(
      async (
        dir: string | undefined,
        o: { instance: string; handle: string; out?: string; force?: boolean },
      ) => {
        const c = ctx();
        if ((dir === undefined) === (o.out === undefined)) {
          throw ValidationError.forField("cli", "<dir>", "give the folder once: as [dir] or --out");
        }
        const flag = dir === undefined ? "--out" : "<dir>";
        const flags = parseFlags(PullFlags, { ...o, dir: dir ?? o.out }, { dir: flag });
        const store = await c.store();
        const target = isAbsolute(flags.dir) ? flags.dir : resolve(c.io.cwd, flags.dir);
        const ref = await pullIntoFolder(store, {
          pluginInstanceId: flags.instance,
          handle: flags.handle,
          target,
          force: flags.force,
          flag,
          keep: c.localStatePaths(),
          cwd: c.io.cwd,
        });
        c.print(
          { ...summary(ref), path: target },
          () =>
            `pulled ${ref.handle} (${ref.digest.slice(0, 19)}…, ${plural(ref.fileCount, "file")}) into ${target}`,
        );
      },
    );

  cmd
    .command("delete")
    .description("delete a handle (its blob stays while another handle points at it)")
    .requiredOption("--instance <id>", "plugin instance id")
    .requiredOption("--handle <name>", "checkpoint handle")
    .action(async (o: { instance: string; handle: string }) => {
      const c = ctx();
      const store = await c.store();
      await store.delete({
        pluginInstanceId: validateId(o.instance, "--instance"),
        handle: validateId(o.handle, "--handle"),
      });
      c.print({ deleted: o.handle }, () => `deleted handle ${o.handle}`);
    });

  cmd
    .command("prune")
    .description(
      "delete handles outside a retention policy (default is always kept), then collect unused blobs",
    )
    .requiredOption("--instance <id>", "plugin instance id")
    .option("--keep-last <n>", "keep the N newest checkpoints")
    .option("--keep-best <n>", "keep the N best checkpoints by --metric")
    .option("--metric <name>", "metric in trainingResults for --keep-best")
    .option("--min", "lower metric is better (default: higher)")
    .option("--protect <handles>", "comma-separated handles never deleted")
    .option("--dry-run", "only report what would be deleted")
    .option(
      "--gc-min-age-ms <ms>",
      "collect unused blobs older than this (younger ones may belong to a save in progress)",
      "3600000",
    )
    .action(
      async (o: {
        instance: string;
        keepLast?: string;
        keepBest?: string;
        metric?: string;
        min?: boolean;
        protect?: string;
        dryRun?: boolean;
        gcMinAgeMs: string;
      }) => {
        const c = ctx();
        const store = await c.store();
        const pluginInstanceId = validateId(o.instance, "--instance");
        const result = await pruneNamingFlags(store, {
          pluginInstanceId,
          keepLast: o.keepLast === undefined ? undefined : parseIntFlag(o.keepLast, "--keep-last"),
          keepBest: o.keepBest === undefined ? undefined : parseIntFlag(o.keepBest, "--keep-best"),
          metric: o.metric,
          mode: o.min ? "min" : "max",
          protect: o.protect
            ?.split(",")
            .filter(Boolean)
            .map((h) => validateId(h.trim(), "--protect")),
          dryRun: o.dryRun,
        });
        const gc = o.dryRun
          ? undefined
          : await store.gc({
              pluginInstanceId,
              minAgeMs: parseIntFlag(o.gcMinAgeMs, "--gc-min-age-ms"),
            });
        c.print({ ...result, gc }, () =>
          [
            `${o.dryRun ? "would delete" : "deleted"}: ${result.deleted.join(", ") || "nothing"}`,
            `kept: ${result.kept.join(", ") || "nothing"}`,
            ...(gc ? [`blobs freed: ${gc.deleted.length} (${gc.bytesFreed} bytes)`] : []),
          ].join("\n"),
        );
      },
    );

  cmd
    .command("verify")
    .description(
      "re-hash every stored blob of an instance against its manifest; --repair quarantines bad ones (exit 1 when any is bad)",
    )
    .requiredOption("--instance <id>", "plugin instance id")
    .option("--repair", "quarantine bad blobs so no save reuses them (their handles stay broken)")
    .action(async (o: { instance: string; repair?: boolean }) => {
      const c = ctx();
      const pluginInstanceId = validateId(o.instance, "--instance");
      const repair = o.repair ?? false;
      const store = await c.store();
      const result = await store.verify({
        pluginInstanceId,
        repair,
        onProgress: c.progress.verify,
      });
      c.print(result, () =>
        verifyReport(
          result,
          repair,
          `no stored blobs for instance "${pluginInstanceId}" in ${c.remote}`,
        ),
      );
      // Bad blobs are lost data, also once quarantined: the command fails.
      if (result.bad.length > 0) c.exitCode = 1;
    });

  registerSteamshipTransfer(cmd, ctx);
}
