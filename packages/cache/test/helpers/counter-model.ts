import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type CheckpointRef,
  type InvocableResponse,
  TrainableModel,
  type TrainPluginOutput,
} from "@trainable/core";

/**
 * A tiny model whose state is a version string written into three files (and an optional
 * payload of `payloadBytes`). Loading checks the three agree, so a folder mixing two versions
 * can never load. Counts loads and disposals in statics.
 */
export class CounterModel extends TrainableModel<{ tag?: string }> {
  static loads = 0;
  static disposals = 0;
  /** Makes the next N loads throw. */
  static failNextLoads = 0;
  /** Delay inside loadFromFolder (ms), to widen races. */
  static loadDelayMs = 0;

  version = "";
  payloadBytes = 0;
  disposed = false;
  loadedDigest?: string;
  /** Calls of `work` running now. */
  inUse = 0;
  /** Set when `dispose()` ran while a `work` call was running (must never happen). */
  disposedWhileInUse = false;

  static reset(): void {
    CounterModel.loads = 0;
    CounterModel.disposals = 0;
    CounterModel.failNextLoads = 0;
    CounterModel.loadDelayMs = 0;
  }

  static withVersion(version: string, payloadBytes = 0): CounterModel {
    const model = new CounterModel();
    model.version = version;
    model.payloadBytes = payloadBytes;
    return model;
  }

  async saveToFolder(dir: string): Promise<void> {
    await mkdir(join(dir, "weights"), { recursive: true });
    await writeFile(join(dir, "version.txt"), this.version);
    await writeFile(join(dir, "meta.json"), JSON.stringify({ version: this.version }));
    const unit = Buffer.from(`${this.version};`);
    const payload = Buffer.alloc(Math.max(this.payloadBytes, unit.length));
    for (let i = 0; i < payload.length; i += unit.length) unit.copy(payload, i);
    await writeFile(join(dir, "weights", "payload.bin"), payload);
  }

  async loadFromFolder(dir: string): Promise<void> {
    CounterModel.loads++;
    if (CounterModel.loadDelayMs > 0)
      await new Promise((r) => setTimeout(r, CounterModel.loadDelayMs));
    if (CounterModel.failNextLoads > 0) {
      CounterModel.failNextLoads--;
      throw new Error("CounterModel: load failed on purpose");
    }
    const version = await readFile(join(dir, "version.txt"), "utf8");
    const meta = JSON.parse(await readFile(join(dir, "meta.json"), "utf8")) as { version: string };
    const payload = await readFile(join(dir, "weights", "payload.bin"));
    const prefix = payload.subarray(0, Buffer.byteLength(version) + 1).toString();
    if (meta.version !== version || prefix !== `${version};`) {
      throw new Error(
        `CounterModel: mixed versions in ${dir}: ${version} / ${meta.version} / ${prefix}`,
      );
    }
    this.version = version;
    this.payloadBytes = payload.length;
  }

  /** A slow request on the model: records a `dispose()` that happens before it ends. */
  async work(ms: number): Promise<string> {
    this.inUse++;
    try {
      if (this.disposed) this.disposedWhileInUse = true;
      await new Promise((r) => setTimeout(r, ms));
      if (this.disposed) this.disposedWhileInUse = true;
      return this.version;
    } finally {
      this.inUse--;
    }
  }

  override dispose(): void {
    CounterModel.disposals++;
    if (this.inUse > 0) this.disposedWhileInUse = true;
    this.disposed = true;
  }

  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    throw new Error("CounterModel does not train");
  }
}

/** A `load` for `cache.getOrLoad` that records the ref's digest. */
export async function loadCounter(dir: string, ref: CheckpointRef): Promise<CounterModel> {
  const model = new CounterModel();
  await model.loadFromFolder(dir);
  model.loadedDigest = ref.digest;
  return model;
}
