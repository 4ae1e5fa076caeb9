import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "../schemas/__fixtures__/helpers.js";
import { CheckpointFile, CheckpointMetadata, CheckpointRef } from "./checkpoint-ref.js";

const hex = (c: string) => c.repeat(64);

const ref = {
  schemaVersion: 1,
  handle: "v1",
  digest: `sha256:${hex("a")}`,
  size: 10240,
  archiveSha256: hex("b"),
  compression: "gzip",
  archivePath: `ws/my-tagger/blobs/sha256/${hex("a")}`,
  files: [
    { path: "model.json", size: 12, sha256: hex("c") },
    { path: "weights/layer0.bin", size: 0, sha256: hex("d") },
  ],
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
        schemaVersion: 2,
        handle: "../default",
        digest: hex("a"),
        size: -1,
        archiveSha256: hex("B"),
        compression: "zstd",
        archivePath: "",
        files: [{ path: "", size: 1.5, sha256: "xyz" }],
        createdAt: "yesterday",
        parent: 3,
        metadata: { modelClass: 7 },
      },
      [
        "schemaVersion",
        "handle",
        "digest",
        "size",
        "archiveSha256",
        "compression",
        "archivePath",
        "files[0].path",
        "files[0].size",
        "files[0].sha256",
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
    expect(CheckpointFile.parse(ref.files[0])).toEqual(ref.files[0]);
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
