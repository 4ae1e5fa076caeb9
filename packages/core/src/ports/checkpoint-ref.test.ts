import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "../schemas/__fixtures__/helpers.js";
import { CheckpointFile, CheckpointMetadata, CheckpointRef } from "./checkpoint-ref.js";

const hex = (c: string) => c.repeat(64);

const file = { path: "model.json", size: 12, sha256: hex("c") };
const ref = {
  formatVersion: 2,
  handle: "v1",
  digest: `sha256:${hex("a")}`,
  archivePath: "ws/my-tagger/blobs/0m3x1k2a9-0123456789abcdef.tar.gz",
  size: 10240,
  compression: "gzip",
  manifestSize: 180,
  fileCount: 2,
  directoryCount: 1,
  totalBytes: 12,
  createdAt: "2024-05-01T12:00:00.000Z",
  parent: null,
  metadata: { modelClass: "MyModel", trainingResults: { accuracy: 0.9 }, custom: [1, 2] },
};

describe("CheckpointRef schema", () => {
  it("accepts a ref and keeps free-form metadata keys", () => {
    expect(CheckpointRef.parse(ref)).toEqual(ref);
    const { parent: _parent, ...noParent } = ref;
    expect(CheckpointRef.parse(noParent)).toEqual(noParent);
    expect(CheckpointRef.parse({ ...ref, parent: `sha256:${hex("e")}` }).parent).toBe(
      `sha256:${hex("e")}`,
    );
  });

  it("lists every bad field of a ref", () => {
    expectIssuePaths(
      CheckpointRef,
      {
        ...ref,
        formatVersion: 1,
        handle: "../default",
        digest: hex("a"),
        archivePath: "",
        size: -1,
        compression: "zstd",
        manifestSize: 1.5,
        fileCount: -2,
        directoryCount: "1",
        totalBytes: null,
        createdAt: "yesterday",
        parent: 3,
        metadata: { modelClass: 7 },
      },
      [
        "formatVersion",
        "handle",
        "digest",
        "archivePath",
        "size",
        "compression",
        "manifestSize",
        "fileCount",
        "directoryCount",
        "totalBytes",
        "createdAt",
        "parent",
        "metadata.modelClass",
      ],
      "ref JSON",
    );
  });

  it("requires metadata", () => {
    const { metadata: _metadata, ...rest } = ref;
    expectIssuePaths(CheckpointRef, rest, ["metadata"], "ref JSON");
  });

  it("CheckpointFile and CheckpointMetadata on their own", () => {
    expect(CheckpointFile.parse(file)).toEqual(file);
    expectIssuePaths(
      CheckpointFile,
      { path: "a", size: -1, sha256: hex("g") },
      ["size", "sha256"],
      "file",
    );
    expect(CheckpointMetadata.parse({ anything: { x: 1 } })).toEqual({ anything: { x: 1 } });
    expectIssuePaths(
      CheckpointMetadata,
      { trainPluginInput: [], packageVersion: 1 },
      ["trainPluginInput", "packageVersion"],
      "metadata",
    );
  });
});
