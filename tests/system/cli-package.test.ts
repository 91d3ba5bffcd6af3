import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliPackageInfo } from "@holdout/contracts/http";
import { runScript } from "../support/cli.ts";
import { REPO_ROOT } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The participants' CLI as the server packages it: installed with npm from the server's URL into
// an empty directory outside the repository (no registry reachable: the package has no
// dependencies to fetch), then used against that server to submit a model and read the board.

function npm(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", args, {
      cwd,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: cwd,
        // Nothing may come from a registry: an unreachable one proves the package needs none.
        npm_config_registry: "http://127.0.0.1:9/",
        npm_config_cache: path.join(cwd, ".npm-cache"),
        npm_config_audit: "false",
        npm_config_fund: "false",
        npm_config_update_notifier: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("the CLI package the server serves", () => {
  let stack: Stack;
  let dir: string;
  let info: CliPackageInfo;

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    dir = await mkdtemp(path.join(os.tmpdir(), "holdout-cli-install-"));
  });
  afterAll(async () => {
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("says where it is and how to install it; the tarball is what it says", async () => {
    const res = await fetch(`${stack.url}/api/v1/cli`);
    expect(res.status).toBe(200);
    info = (await res.json()) as CliPackageInfo;
    const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      version: string;
    };
    expect(res.headers.get("holdout-version")).toBe(version);
    expect(info).toMatchObject({ name: "holdout-cli", version });
    expect(info.url).toBe(`${stack.url}/cli/holdout-cli-${version}.tgz`);
    expect(info.install).toBe(`npm install -g ${info.url}`);

    const tgz = await fetch(info.url);
    expect(tgz.status).toBe(200);
    expect(tgz.headers.get("content-type")).toBe("application/gzip");
    const bytes = Buffer.from(await tgz.arrayBuffer());
    expect(bytes.length).toBe(info.bytes);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(info.sha256);

    const stale = await fetch(`${stack.url}/cli/holdout-cli-0.0.1.tgz`);
    expect(stale.status).toBe(404);
    expect(((await stale.json()) as { detail: string }).detail).toContain(`/cli/holdout-cli-${version}.tgz`);
  });

  it("installs from the server's URL with no registry, outside the repository", async () => {
    expect(path.relative(REPO_ROOT, await realpath(dir)).startsWith("..")).toBe(true);
    await writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "someone", private: true }));
    const installed = await npm(["install", info.url], dir);
    expect(installed.code, installed.output).toBe(0);
    // One file of code and its notices; nothing else was installed beside it.
    expect((await readdir(path.join(dir, "node_modules"))).filter((n) => !n.startsWith("."))).toEqual([
      "holdout-cli",
    ]);
    const notices = await readFile(
      path.join(dir, "node_modules/holdout-cli/THIRD_PARTY_LICENSES.txt"),
      "utf8",
    );
    expect(notices).toMatch(/^commander@\S+ \(MIT\)/m);

    const help = await runScript(path.join(dir, "node_modules/.bin/holdout"), ["--help"], {}, { cwd: dir });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/submit \[options\]/);
    // The organizers' commands read the server's database: not in the participants' package.
    expect(help.stdout).not.toMatch(/^\s+(team|admin|competition)\b/m);
  });

  it("submits a model, waits for its scores and reads the board, with no version warning", async () => {
    const team = await stack.createTeam("Package Team");
    const env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: team.token };
    const cli = path.join(dir, "node_modules/.bin/holdout");
    const model = await tinyShellModelTarball(CONSTANT_PREDICTIONS);
    try {
      const run = await runScript(cli, ["submit", "--tarball", model, "--model", "Packaged", "--wait"], env, {
        cwd: dir,
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^\d\d:\d\d:\d\d {2}scored {2}/m);
      expect(run.stderr).not.toContain("warning");
    } finally {
      await rm(model, { force: true });
    }
    const board = await runScript(cli, ["leaderboard", "--json"], env, { cwd: dir });
    expect(board.code, board.stderr).toBe(0);
    expect(JSON.parse(board.stdout)).toHaveProperty("entries");
  });

  it("sends a local image's layers, then only what the server lacks", async () => {
    const team = await stack.createTeam("Package Layers");
    const env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: team.token };
    const cli = path.join(dir, "node_modules/.bin/holdout");
    const image = "holdout/example-constant:latest";
    const first = await runScript(cli, ["submit", "--image", image, "--model", "Packaged layers"], env, {
      cwd: dir,
    });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^0 of (\d+) layers already on the server/m);
    const again = await runScript(
      cli,
      ["submit", "--image", image, "--model", "Packaged again", "--wait"],
      env,
      {
        cwd: dir,
      },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^(\d+) of \1 layers already on the server/m);
    expect(again.stderr).toMatch(/: 0 of \d+ layers, the config and the manifest/);
    expect(again.stdout).toMatch(/^\d\d:\d\d:\d\d {2}scored {2}/m);
  });
});
