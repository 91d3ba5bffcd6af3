import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_IMAGE, BASELINE_TARBALL, uniqueName } from "../support/env.ts";
import {
  craftTarball,
  dockerfileTarball,
  gzipBomb,
  imageId,
  shellModelTarball,
  CONSTANT_PREDICTIONS,
} from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// Hostile uploads through the real API and worker: what the team sees is a final state with the
// reason, the engine keeps its images' tags, and nothing is left behind.
// Each test waits up to 120 s for its submission to end (a whole evaluation on a loaded machine);
// the test's own timeout must not cut that wait short.
describe("hostile images through the worker", { timeout: 180_000 }, () => {
  let stack: Stack;
  const leftover = uniqueName("leftover");
  const submitted: string[] = [];

  beforeAll(async () => {
    // What a crashed worker would leave: a labelled container (running) and volume, no deadline.
    const labels = ["--label", "holdout.sandbox=1", "--label", `holdout.test.leftover=${leftover}`];
    await run("docker", ["volume", "create", ...labels, `${leftover}-vol`]);
    await run("docker", [
      "run",
      "-d",
      "--network",
      "none",
      "--name",
      leftover,
      ...labels,
      BASE_IMAGE,
      "sleep",
      "600",
    ]);
    stack = await startStack({ worker: true, workerEnv: { HOLDOUT_RUN_TIMEOUT_SECONDS: "30" } });
  });

  afterAll(async () => {
    await stack?.close();
    const { stdout } = await run("docker", [
      "ps",
      "-aq",
      "--filter",
      `label=holdout.test.leftover=${leftover}`,
    ]);
    if (stdout.trim()) await run("docker", ["rm", "-f", ...stdout.trim().split("\n")]);
  });

  async function submit(file: string, model = uniqueName("model")) {
    // A team per submission: the daily quota is not what these tests are about.
    const { token } = await stack.createTeam();
    const { status, body } = await uploadImage(stack.url, token, file, { model });
    expect(status).toBe(202);
    submitted.push(body.id);
    const started = Date.now();
    const final = await waitForFinal(stack.url, token, body.id, 120_000);
    return { id: body.id, ms: Date.now() - started, ...final };
  }

  it("the worker removed a crashed worker's leftovers before taking jobs", async () => {
    const ps = await run("docker", ["ps", "-aq", "--filter", `label=holdout.test.leftover=${leftover}`]);
    expect(ps.stdout.trim()).toBe("");
    const vols = await run("docker", [
      "volume",
      "ls",
      "-q",
      "--filter",
      `label=holdout.test.leftover=${leftover}`,
    ]);
    expect(vols.stdout.trim()).toBe("");
  });

  it("an image declaring a VOLUME: image_rejected, saying why", async () => {
    const file = await dockerfileTarball(`FROM ${BASE_IMAGE}\nVOLUME /data\nENTRYPOINT ["true"]\n`);
    const r = await submit(file);
    expect(r.failure).toMatchObject({ category: "image_rejected" });
    expect(r.failure?.message).toMatch(/VOLUME \/data/);
  });

  it("a tarball tagged as the keeper image: image_rejected, and the tag stays where it was", async () => {
    const before = await imageId(BASE_IMAGE);
    const file = await craftTarball(await shellModelTarball(CONSTANT_PREDICTIONS), { tags: [BASE_IMAGE] });
    const r = await submit(file);
    expect(r.failure).toMatchObject({ category: "image_rejected" });
    expect(r.failure?.message).toMatch(/one of this server's own images.*\[reserved_name\]/);
    expect(await imageId(BASE_IMAGE)).toBe(before);
  });

  it("a gzip bomb: image_rejected as a bomb (how fast is the ingest benchmark's business)", async () => {
    const r = await submit(await gzipBomb(4 * 1024 ** 3));
    expect(r.failure).toMatchObject({ category: "image_rejected" });
    expect(r.failure?.message).toMatch(/gzip bomb/);
  });

  it.each([
    ["a ../ member", { name: "../escape.txt", content: "x" }, /outside the archive/],
    ["an absolute member", { name: "/etc/cron.d/evil", content: "x" }, /outside the archive/],
    [
      "a symlink out of the archive",
      { name: "evil", content: "", type: "symlink" as const, linkname: "../../etc/passwd" },
      /links outside the archive/,
    ],
  ])("a tarball with %s: image_rejected", async (_what, extra, reason) => {
    const file = await craftTarball(await shellModelTarball("true"), { extra: [extra] });
    const r = await submit(file);
    expect(r.failure).toMatchObject({ category: "image_rejected" });
    expect(r.failure?.message).toMatch(reason);
  });

  it("afterwards the example baseline still scores, and nothing is left behind", async () => {
    const r = await submit(BASELINE_TARBALL, "Baseline");
    expect(r.state).toBe("scored");
    const scored = r as unknown as { meanAuc: number };
    expect(scored.meanAuc).toBeGreaterThan(0.7);
    expect(scored.meanAuc).toBeLessThanOrEqual(1);
    // One listing with the label read in the same call: containers of tests running in parallel
    // may vanish between a listing and a later inspect.
    const { stdout } = await run("docker", [
      "ps",
      "-a",
      "--filter",
      "label=holdout.submission",
      "--format",
      '{{.Label "holdout.submission"}}',
    ]);
    const ours = stdout.trim().split("\n").filter(Boolean);
    expect(
      ours.filter((s) => submitted.includes(s)),
      "containers left",
    ).toEqual([]);
    // The data directory holds the uploads, one per submission, and nothing else: the upload
    // machinery's own directories (partial multipart files, resumable uploads) are empty.
    const entries = await readdir(stack.dataDir, { recursive: true, withFileTypes: true });
    const stray = entries
      .map((e) => ({
        dir: e.isDirectory(),
        rel: path.relative(stack.dataDir, path.join(e.parentPath, e.name)),
      }))
      .map((e) => ({ ...e, rel: e.rel.split(path.sep).join("/") }))
      .filter(({ dir, rel }) => {
        if (dir) return !/^(uploads|partial|partial\/[^/]+|resumable)$/.test(rel);
        const m = /^uploads\/([^/.]+)\.tar(\.gz)?$/.exec(rel);
        return !(m && submitted.includes(m[1] ?? ""));
      })
      .map((e) => e.rel);
    expect(stray).toEqual([]);
  });
});
