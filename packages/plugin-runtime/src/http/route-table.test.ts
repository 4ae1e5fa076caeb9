import { describe, expect, it } from "vitest";
import { publicRoutes, routeTable } from "./route-table.js";

describe("publicRoutes", () => {
  it("opens only /health when /run is protected", () => {
    expect([...publicRoutes("tag", true)]).toEqual(["GET /health", "HEAD /health"]);
  });

  it("opens /run and its alias when /run is not protected", () => {
    expect(publicRoutes("tag", false)).toEqual(
      new Set(["GET /health", "HEAD /health", "POST /run", "POST /tag"]),
    );
    expect(publicRoutes(undefined, false).has("POST /undefined")).toBe(false);
  });
});

describe("routeTable", () => {
  it("lists what a plain plugin serves", () => {
    expect(routeTable(undefined, false, false)).toEqual(["GET /health", "POST /run"]);
  });

  it("adds the alias, the training routes and registration", () => {
    expect(routeTable("tag", true, true)).toEqual([
      "GET /health",
      "POST /run",
      "POST /tag",
      "POST /getTrainingParameters",
      "POST /train",
      "POST /cancelTraining",
      "PUT /instances/:id",
    ]);
  });
});
