import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lockfileMismatches, pruneDevDependencies } from "./prune-dev-dependencies.ts";

// A checkout as `npm ci` leaves it: package-lock.json, node_modules with npm's own record of what
// it installed (.package-lock.json), command links in .bin.
const LOCK: { name: string; lockfileVersion: number; packages: Record<string, object> } = {
  name: "app",
  lockfileVersion: 3,
  packages: {
    "": { name: "app" },
    "node_modules/fastify": { version: "5.0.0" },
    "node_modules/vitest": { version: "4.0.0", dev: true },
    "node_modules/fastify/node_modules/debug": { version: "1.0.0", dev: true },
    "node_modules/prisma": { version: "6.19.3", devOptional: true },
    "node_modules/@types/node": { version: "20.0.0", dev: true },
    "node_modules/@esbuild/darwin-arm64": { version: "0.25.0", optional: true },
  },
};

let root = "";
afterEach(() => rmSync(root, { recursive: true, force: true }));

function checkout(installed: Record<string, object> = LOCK.packages): string {
  root = mkdtempSync(path.join(os.tmpdir(), "holdout-prune-"));
  writeFileSync(path.join(root, "package-lock.json"), JSON.stringify(LOCK));
  const modules = path.join(root, "node_modules");
  for (const key of Object.keys(installed).filter((k) => k.startsWith("node_modules/"))) {
    mkdirSync(path.join(root, key), { recursive: true });
    writeFileSync(path.join(root, key, "package.json"), "{}");
  }
  writeFileSync(path.join(modules, ".package-lock.json"), JSON.stringify({ ...LOCK, packages: installed }));
  mkdirSync(path.join(modules, ".bin"));
  symlinkSync("../vitest/package.json", path.join(modules, ".bin", "vitest"));
  symlinkSync("../prisma/package.json", path.join(modules, ".bin", "prisma"));
  return root;
}

describe("pruneDevDependencies (the app image's npm prune --omit=dev)", () => {
  it("removes the development-only packages, nested ones too, and keeps what production needs", () => {
    const dir = checkout(
      Object.fromEntries(Object.entries(LOCK.packages).filter(([k]) => !k.includes("darwin"))),
    );
    const removed = pruneDevDependencies(dir);
    expect(removed.sort()).toEqual([
      "node_modules/@types/node",
      "node_modules/fastify/node_modules/debug",
      "node_modules/vitest",
    ]);
    const has = (p: string) => existsSync(path.join(dir, p));
    expect(has("node_modules/fastify/package.json")).toBe(true);
    // The migrations run the Prisma CLI: a devOptional package stays, as npm keeps it.
    expect(has("node_modules/prisma/package.json")).toBe(true);
    expect(has("node_modules/.bin/prisma")).toBe(true);
    expect(has("node_modules/.bin/vitest")).toBe(false);
  });

  it("refuses a node_modules that another lockfile installed (git pull without npm ci)", () => {
    const dir = checkout({ ...LOCK.packages, "node_modules/fastify": { version: "4.9.0" } });
    expect(() => pruneDevDependencies(dir)).toThrow(
      /run npm ci\. node_modules\/fastify is 4\.9\.0, package-lock\.json wants 5\.0\.0/,
    );
    expect(existsSync(path.join(dir, "node_modules/vitest"))).toBe(true);
  });

  it("names a required package that is not installed, but not a missing optional one", () => {
    const rest = Object.fromEntries(
      Object.entries(LOCK.packages).filter(([k]) => k !== "node_modules/fastify"),
    );
    const dir = checkout(rest);
    expect(lockfileMismatches(dir)).toEqual([
      "node_modules/fastify is in package-lock.json but not installed",
    ]);
  });
});
