import { describe, expect, it } from "vitest";
import { createKeyedLock } from "./keyed-lock.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("createKeyedLock", () => {
  it("runs the calls for one key one after another, even after a failure", async () => {
    const locked = createKeyedLock();
    const order: string[] = [];
    const first = locked("a", async () => {
      await tick();
      order.push("first");
      throw new Error("boom");
    });
    const second = locked("a", async () => {
      order.push("second");
      return 2;
    });
    await expect(first).rejects.toThrow("boom");
    expect(await second).toBe(2);
    expect(order).toEqual(["first", "second"]);
  });

  it("does not hold up other keys", async () => {
    const locked = createKeyedLock();
    const order: string[] = [];
    const slow = locked("a", async () => {
      await tick();
      order.push("a");
    });
    await locked("b", async () => {
      order.push("b");
    });
    await slow;
    expect(order).toEqual(["b", "a"]);
  });
});
