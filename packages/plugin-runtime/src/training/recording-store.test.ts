import type { CheckpointStore } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { recordingStore, type SelfSave } from "./recording-store.js";

/** A store whose save answers a ref and records the metadata it was given. */
function fakeStore() {
  const metadata: unknown[] = [];
  const store = {
    workspace: "ws",
    async save(options: { handle: string; metadata?: unknown }) {
      metadata.push(options.metadata);
      return {
        ref: {
          handle: options.handle,
          digest: `d-${options.handle}`,
          archivePath: `${options.handle}.tar`,
        },
        defaultRef: options.handle === "h1" ? {} : undefined,
      };
    },
  } as unknown as CheckpointStore;
  return { store, metadata };
}

describe("recordingStore", () => {
  it("records each save made through it; other members are the store's", async () => {
    const { store } = fakeStore();
    const saves: SelfSave[] = [];
    const recording = recordingStore(store, saves, { handle: "h1", taskId: "t1" });
    expect(recording.workspace).toBe("ws");
    await recording.save({ handle: "other" } as never);
    expect(saves).toEqual([
      {
        handle: "other",
        ref: { digest: "d-other", archivePath: "other.tar" },
        defaultMoved: false,
      },
    ]);
  });

  it("stamps the task id on a save to the task's own handle only", async () => {
    const { store, metadata } = fakeStore();
    const recording = recordingStore(store, [], { handle: "h1", taskId: "t1" });
    await recording.save({ handle: "h1", metadata: { a: 1 } } as never);
    await recording.save({ handle: "h2", metadata: { a: 2 } } as never);
    expect(metadata).toEqual([{ a: 1, trainingTaskId: "t1" }, { a: 2 }]);
  });
});
