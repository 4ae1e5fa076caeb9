import { describe, expect, it } from "vitest";
import { shownPath } from "./read-only-view.js";
import { storeLabel } from "./store-label.js";

describe("storeLabel", () => {
  it("shows where a store is without its query or credentials", () => {
    expect(storeLabel("file:///srv/store")).toBe("/srv/store");
    expect(storeLabel("s3://bucket/prefix?endpoint=http://10.0.0.1:7480&region=x")).toBe(
      "s3://bucket/prefix",
    );
    expect(storeLabel("s3://key:secret@bucket/p")).toBe("s3://bucket/p");
    expect(storeLabel("memory://")).toBe("memory://");
    expect(storeLabel("not a url")).toBe("(store)");
  });

  it("read-only: a file store relative to the working directory, or only its last part", () => {
    expect(storeLabel("file:///work/app/.trainable/store", "/work/app")).toBe(
      "file:.trainable/store",
    );
    expect(storeLabel("file:///srv/store", "/work/app")).toBe("file:…/store");
    expect(storeLabel("file:///work/app-other/store", "/work/app")).toBe("file:…/store");
    expect(shownPath("/work/app", "/work/app")).toBe(".");
  });
});
