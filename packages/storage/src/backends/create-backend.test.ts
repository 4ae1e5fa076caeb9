import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { createBackend } from "./create-backend.js";

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

async function expectInvalid(url: string, message: RegExp) {
  const error = await rejection(createBackend(url));
  expect(ValidationError.isInstance(error), String(error)).toBe(true);
  expect(error.message).toMatch(message);
  return error;
}

describe("createBackend", () => {
  it("builds a file backend from an absolute file URL (string or URL)", async () => {
    const root = join(tmpdir(), "trainable-create-backend");
    const a = await createBackend(pathToFileURL(root).href);
    expect(a.name).toBe("file");
    expect(a.description).toBe(pathToFileURL(root).href);
    const b = await createBackend(pathToFileURL(root));
    expect(b.name).toBe("file");
    const c = await createBackend(`file://localhost${root}?fsync=false`);
    expect(c.name).toBe("file");
  });

  it("rejects relative, remote or parameterised-wrong file URLs", async () => {
    await expectInvalid("file:relative/dir", /absolute path/);
    await expectInvalid("file:./dir", /absolute path/);
    await expectInvalid("file://server/share", /must be local/);
    await expectInvalid("file:///tmp/x?color=blue", /unknown query parameter "color"/);
    await expectInvalid("file:///tmp/x?fsync=maybe", /"fsync" must be true or false/);
  });

  it("gives a fresh memory backend for memory:// and a shared one for memory://name", async () => {
    const a = await createBackend("memory://");
    const b = await createBackend("memory://");
    expect(a).not.toBe(b);
    const shared1 = await createBackend("memory://shared-test");
    const shared2 = await createBackend(new URL("memory://shared-test"));
    expect(shared1).toBe(shared2);
    await shared1.put("k", Buffer.from("v"));
    expect(await shared2.head("k")).toBeDefined();
    expect((await createBackend("memory:")).name).toBe("memory");
    await expectInvalid("memory://name/path", /memory:\/\/ or memory:\/\/name/);
    await expectInvalid("memory://x?y=1", /no query/);
  });

  it("builds an s3 backend (loading the SDK lazily) from bucket, prefix and parameters", async () => {
    const backend = await createBackend(
      "s3://my-bucket/some/prefix?endpoint=http://127.0.0.1:7480&region=eu-west-1&forcePathStyle=true&partSize=6291456&ifMatch=false",
    );
    expect(backend.name).toBe("s3");
    expect(backend.description).toBe("s3://my-bucket/some/prefix/ at http://127.0.0.1:7480");
    expect(backend.capabilities).toEqual({
      createOnly: true,
      compareAndSwap: false,
      rangeReads: true,
      // partSize from the URL (6 MiB): larger conditional puts are refused, never emulated.
      conditionalMaxBytes: 6 * 1024 * 1024,
    });
    await backend.close?.();
    const overridden = await createBackend("s3://my-bucket?ifMatch=false", {
      s3: { endpoint: "http://127.0.0.1:1", conditionalWrites: { ifMatch: true } },
    });
    expect(overridden.capabilities.compareAndSwap).toBe(true);
    expect(overridden.description).toBe("s3://my-bucket/ at http://127.0.0.1:1");
    await overridden.close?.();
  });

  it("rejects bad s3 URLs with a ValidationError naming the problem", async () => {
    await expectInvalid("s3:///prefix", /missing bucket/);
    await expectInvalid("s3://bucket/p?colour=red", /unknown query parameter "colour"/);
    await expectInvalid("s3://bucket/p?partSize=big", /"partSize" must be a whole number/);
    await expectInvalid("s3://bucket/p?partSize=1024", /Invalid option "partSize"/);
    await expectInvalid("s3://bucket/a//b", /bad prefix/);
    await expectInvalid("s3://bucket/a%5Cb", /bad prefix/);
    await expectInvalid("s3://Bad_Bucket/x", /Invalid option "bucket"/);
    await expectInvalid("s3://bucket:9000/x", /endpoint=/);
    const error = await expectInvalid(
      "s3://AKIDEXAMPLE:topsecret@bucket/x",
      /must not hold credentials/,
    );
    expect(error.message).not.toContain("topsecret");
  });

  it("rejects unknown schemes and non-URLs", async () => {
    await expectInvalid("http://example.com/x", /unsupported scheme "http:"/);
    await expectInvalid("gs://bucket/x", /unsupported scheme "gs:"/);
    await expectInvalid("/abs/path/without/scheme", /not a URL/);
    await expectInvalid("", /not a URL/);
    const error = await rejection(createBackend(42 as unknown as string));
    expect(ValidationError.isInstance(error)).toBe(true);
  });
});

describe("createBackend refuses dot segments", () => {
  it.each([
    "s3://bucket/../../x",
    "s3://bucket/a/./b",
    "file:///tmp/a/../b",
    "s3://bucket/%2e%2e/x",
  ])("%s", async (url) => {
    await expect(createBackend(url)).rejects.toThrow(
      /must not contain "\." or "\.\." path segments/,
    );
  });
});
