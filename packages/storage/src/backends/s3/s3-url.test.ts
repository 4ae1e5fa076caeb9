import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { s3OptionsFromUrl } from "./s3-url.js";

const parse = (url: string) => s3OptionsFromUrl(new URL(url));

describe("s3OptionsFromUrl", () => {
  it("reads the bucket, the prefix and every known parameter into S3BackendOptions", () => {
    expect(
      parse(
        "s3://my-bucket/team%20a/models?endpoint=http://127.0.0.1:7480&region=eu-west-1&forcePathStyle=1&createBucket=false&partSize=6291456&queueSize=2&maxAttempts=3&ifNoneMatch=true&ifMatch=0&multipartConditional=true",
      ),
    ).toEqual({
      bucket: "my-bucket",
      prefix: "team a/models",
      endpoint: "http://127.0.0.1:7480",
      region: "eu-west-1",
      forcePathStyle: true,
      createBucket: false,
      partSize: 6291456,
      queueSize: 2,
      maxAttempts: 3,
      conditionalWrites: { ifNoneMatch: true, ifMatch: false, multipart: true },
    });
    expect(parse("s3://b")).toEqual({ bucket: "b", prefix: "" });
  });

  it("refuses credentials, ports, fragments, unknown or malformed parameters, naming the problem", () => {
    const problems: Array<[string, RegExp]> = [
      ["s3://key:secret@bucket/p", /must not hold credentials/],
      ["s3://bucket:9000/p", /put the server in \?endpoint=/],
      ["s3://bucket/p#x", /no #fragment/],
      ["s3://bucket/p?acl=private", /unknown query parameter "acl"/],
      ["s3://bucket/p?partSize=big", /"partSize" must be a whole number/],
      ["s3://bucket/p?forcePathStyle=yes", /"forcePathStyle" must be true or false/],
      ["s3://bucket/a//b", /bad prefix/],
      ["s3://bucket/%E0%A4%A", /bad percent-encoding/],
    ];
    for (const [url, message] of problems) {
      let error: unknown;
      try {
        parse(url);
      } catch (e) {
        error = e;
      }
      expect(ValidationError.isInstance(error), url).toBe(true);
      expect((error as Error).message, url).toMatch(message);
      expect((error as Error).message, url).not.toContain("secret");
    }
  });
});
