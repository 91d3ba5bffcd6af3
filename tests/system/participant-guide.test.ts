import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/env.ts";
import { GuideShell, guideSteps, sessionParts, type GuideStep } from "../support/guide.ts";
import { baseEnv, Cleanup } from "../support/processes.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The participant guide (docs/participant-guide.md), run as written: its marked blocks, pasted in
// order into one shell in an empty directory outside the repository, against a real server (API and
// worker): register, install the CLI from the server, build the guide's image, make a development
// set, run and score the model locally, submit it with --wait, read its status and log, hide and
// unhide it. Only what the guide leaves to its reader differs: the server's address, npm's global
// directory (a scratch one, and no registry at all), and the image's tag (this run's own, so nothing
// else on the Docker engine is touched). The base image the guide downloads is the engine's own
// holdout/base:bookworm, saved into the server's downloads as an organizer would: loading it gives
// the tag the ID it has. If the guide and the server drift apart, this fails at the step that broke.

const run = promisify(execFile);
const DOC = "docs/participant-guide.md";
const MIN = 60_000;

// Every step of the guide, in its order: null runs it; a reason says why this test cannot.
const PLAN: [string, string | null][] = [
  ["server", "the test's server listens on a free loopback port: HOLDOUT_SERVER names it"],
  ["register", null],
  ["install-cli", null],
  ["base-image-download", null],
  ["base-image-build", "debootstrap needs root and a Debian mirror; the download gave the same image"],
  ["model", null],
  ["devset", null],
  ["run-locally", null],
  ["submit", null],
  ["status", null],
  ["hide", null],
];

const id = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
const modelTag = `holdout-test/guide-model-${id}:latest`;
const steps = guideSteps(readFileSync(path.join(REPO_ROOT, DOC), "utf8"));

function step(name: string): GuideStep {
  const found = steps.find((s) => s.name === name);
  if (!found) throw new Error(`the guide has no step ${name}`);
  return { ...found, code: found.code.replaceAll("my-model:latest", modelTag) };
}

interface Submission {
  state: string;
  meanAuc: number | null;
  failure: unknown;
  hidden: boolean;
  failedPhase: string | null;
}

describe("the participant guide, run as written", () => {
  let stack: Stack;
  let work = "";
  let shell: GuideShell | undefined;
  const timings: string[] = [];

  /** One participant's session. */
  const part = sessionParts();

  async function runSteps(...names: string[]): Promise<string> {
    let printed = "";
    for (const name of names) {
      const started = Date.now();
      printed += await shell!.run(step(name), 3 * MIN);
      timings.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    return printed;
  }

  async function api<T>(route: string): Promise<T> {
    const token = await shell!.value("HOLDOUT_TOKEN");
    const res = await fetch(`${stack.url}${route}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, route).toBe(200);
    return (await res.json()) as T;
  }

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    work = await mkdtemp(path.join(os.tmpdir(), "holdout-participant-"));
    // The repository's own `holdout` (node_modules/.bin) must not answer for the installed one.
    const pathDirs = (process.env.PATH ?? "").split(":").filter((d) => d && !d.includes("node_modules"));
    shell = GuideShell.start(
      work,
      {
        ...baseEnv(),
        HOME: work,
        PATH: [path.join(work, "npm-global", "bin"), ...pathDirs].join(":"),
        HOLDOUT_SERVER: stack.url,
        npm_config_prefix: path.join(work, "npm-global"),
        npm_config_cache: path.join(work, ".npm-cache"),
        // Nothing may come from a registry: an unreachable one proves the guide needs none.
        npm_config_registry: "http://127.0.0.1:9/",
        npm_config_audit: "false",
        npm_config_fund: "false",
        npm_config_update_notifier: "false",
      },
      work,
      DOC,
    );
  });

  afterAll(async () => {
    console.info(`the guide's steps took: ${timings.join(", ")}`);
    const cleanup = new Cleanup();
    if (work) cleanup.add("remove the scratch directory", () => rm(work, { recursive: true, force: true }));
    cleanup.add("remove this run's model image", async () => {
      await run("docker", ["image", "rm", "--force", modelTag]).catch((err: unknown) => {
        if (!String(err).includes("No such image")) throw err;
      });
    });
    if (shell) cleanup.add("stop the shell", () => shell!.close());
    if (stack) cleanup.add("stop the stack", () => stack.close());
    await cleanup.run();
  }, 2 * MIN);

  it("knows every step of the guide, in the guide's order", () => {
    expect(steps.map((s) => s.name)).toEqual(PLAN.map(([name]) => name));
  });

  part("registers a team with curl, and installs the CLI from the server with no registry", MIN, async () => {
    const printed = await runSteps("register", "install-cli");
    expect(printed).toContain('"name": "My Team"');
    expect(await api("/api/v1/session")).toMatchObject({
      role: "team",
      team: { name: "My Team", approved: true },
    });
    // The command on PATH is the package npm installed from the server, outside the repository.
    const { stdout } = await run("bash", ["-c", "command -v holdout"], {
      env: { PATH: `${path.join(work, "npm-global", "bin")}:/usr/bin:/bin` },
    });
    expect(path.relative(REPO_ROOT, realpathSync(stdout.trim())).startsWith("..")).toBe(true);
    expect(printed).toMatch(/submit \[options\]/);
  });

  part("loads the base image from the server's downloads, as the organizer published it", MIN, async () => {
    const base = "holdout/base:bookworm";
    const id = async () =>
      (await run("docker", ["image", "inspect", "--format", "{{.Id}}", base])).stdout.trim();
    const before = await id();
    await mkdir(path.join(stack.dataDir, "downloads"));
    // The organizer guide's line, with this stack's data directory.
    await run("bash", [
      "-c",
      'set -o pipefail; docker save "$0" | gzip -1 > "$1"',
      base,
      path.join(stack.dataDir, "downloads", "holdout-base-bookworm.tar.gz"),
    ]);
    const printed = await runSteps("base-image-download");
    expect(printed).toMatch(/^holdout-base-bookworm\.tar\.gz {2}\d+ bytes$/m);
    expect(printed).toContain(`Loaded image: ${base}`);
    expect(await id()).toBe(before);
  });

  part(
    "builds the guide's image, makes a development set, and runs and scores it locally",
    2 * MIN,
    async () => {
      const printed = await runSteps("model", "devset", "run-locally");
      const { stdout } = await run("docker", ["image", "inspect", "--format", "{{.Config.User}}", modelTag]);
      expect(stdout.trim()).toBe("65534");
      expect(existsSync(path.join(work, "devset", "private", "groundtruth.csv"))).toBe(true);
      const predictions = readFileSync(path.join(work, "out", "predictions.csv"), "utf8")
        .trim()
        .split("\n");
      const studies = readFileSync(path.join(work, "devset", "private", "groundtruth.csv"), "utf8")
        .trim()
        .split("\n");
      expect(predictions[0]).toBe("Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion");
      expect(predictions).toHaveLength(studies.length);
      // The model's stderr, and the official metric's verdict on a constant model.
      expect(printed).toMatch(/predicting \d+ images/);
      expect(printed).toMatch(/0\.500/);
    },
  );

  part("submits with --wait, reads its status and log, and hides and unhides it", 2 * MIN, async () => {
    const submitted = await runSteps("submit");
    const submission = await shell!.value("SUBMISSION");
    expect(submission).toMatch(/^[0-9a-f-]{36}$/);
    expect(submitted).toContain(`its page: ${stack.url}/submissions/${submission}`);
    expect(submitted).toMatch(/^quota: \d+ more submissions? now/m);
    expect(submitted).toMatch(/scored/);
    const scored = await api<Submission>(`/api/v1/submissions/${submission}`);
    expect(scored).toMatchObject({ state: "scored", failure: null, meanAuc: 0.5 });

    const status = await runSteps("status");
    expect(status).toContain(`submission ${submission}`);
    expect(status).toMatch(/smoke run passed/);
    expect(status).toMatch(/predicting \d+ images/); // its smoke-run log
    // Under the listing floor: scored, but not on the board.
    const board = await api<{ entries: { model: string }[] }>("/api/v1/leaderboard");
    expect(board.entries.map((e) => e.model)).not.toContain("My first model");

    const hidden = await runSteps("hide");
    expect(hidden).toContain(`submission ${submission}  My first model: hidden from the public leaderboard`);
    expect(hidden).toContain(
      `submission ${submission}  My first model: on the public leaderboard when listed`,
    );
    expect(await api<Submission>(`/api/v1/submissions/${submission}`)).toMatchObject({ hidden: false });
  });
});
