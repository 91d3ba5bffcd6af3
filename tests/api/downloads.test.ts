import { randomBytes } from "node:crypto";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DownloadList } from "@holdout/contracts/http";
import { TEST_TESTSET_DIR } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The files organizers hand out to teams (the base image for engines with no registry): regular
// files with plain names in the data directory's downloads/, and nothing else of the server.

describe("downloads the organizers hand out", () => {
  let stack: Stack;
  const image = randomBytes(300_000);

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it("lists nothing when the organizers placed nothing", async () => {
    const res = await fetch(`${stack.url}/api/v1/downloads`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ files: [] });
  });

  it("lists and serves the regular files, byte for byte, and nothing else of the server", async () => {
    const dir = path.join(stack.dataDir, "downloads");
    await mkdir(path.join(dir, "nested"), { recursive: true });
    await writeFile(path.join(dir, "holdout-base-bookworm.tar.gz"), image);
    await writeFile(path.join(dir, "README.txt"), "load it with docker load -i\n");
    await writeFile(path.join(dir, ".hidden"), "not for teams");
    await writeFile(path.join(dir, "nested", "inner.txt"), "not for teams");
    await symlink(path.join(TEST_TESTSET_DIR, "private", "groundtruth.csv"), path.join(dir, "labels.csv"));

    const list = (await (await fetch(`${stack.url}/api/v1/downloads`)).json()) as DownloadList;
    expect(list.files).toEqual([
      { name: "README.txt", bytes: 28, url: `${stack.url}/downloads/README.txt` },
      {
        name: "holdout-base-bookworm.tar.gz",
        bytes: image.length,
        url: `${stack.url}/downloads/holdout-base-bookworm.tar.gz`,
      },
    ]);

    const res = await fetch(list.files[1]!.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-length")).toBe(String(image.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(image)).toBe(true);

    for (const name of [
      "labels.csv",
      ".hidden",
      "nested",
      "nested%2Finner.txt",
      "..%2Ftestset",
      "missing.tar",
    ]) {
      const refused = await fetch(`${stack.url}/downloads/${name}`);
      expect(refused.status, name).toBe(404);
      const problem = (await refused.json()) as { code: string; detail: string };
      expect(problem.code).toBe("HOLDOUT_ERR_NOT_FOUND");
      expect(problem.detail).toContain("GET /api/v1/downloads lists what it has");
    }
  });
});
