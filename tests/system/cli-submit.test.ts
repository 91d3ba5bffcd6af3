import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import net from "node:net";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCompetition } from "@holdout/db";
import { checkCompetitionSets } from "@holdout/testset";
import { BASELINE_IMAGE, REPO_ROOT, TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { holdout } from "../support/cli.ts";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

// `holdout submit` end to end: the CLI sends an image's layers (or streams `docker save` whole, as a
// resumable upload) into a real API,
// a real worker runs the model in the sandbox, and the CLI follows it to its scores or its failure.

const SUBMISSION = /submission ([0-9a-f-]{36}): (\w+)/;

describe("holdout submit / status / leaderboard", () => {
  let stack: Stack;
  let team: { id: string; token: string };
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    team = await stack.createTeam("CLI Team");
    env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: team.token };
  });
  afterAll(() => stack?.close());

  it("sends an image's layers from docker save, waits, and prints the scores (exit 0)", async () => {
    const run = await holdout(
      ["submit", "--image", BASELINE_IMAGE, "--model", "CLI baseline", "--wait"],
      env,
    );
    expect(run.stderr).toContain(
      `sending ${BASELINE_IMAGE} to ${stack.url}: only the layers it does not hold`,
    );
    // What travelled: the new layers (a new team holds none), gzipped, the config and the manifest.
    expect(run.stderr).toMatch(/^0 of (\d+) layers already on the server/m);
    expect(run.stderr).toMatch(/^sent [\d.]+ (KiB|MiB|GiB) \(\d+ bytes\): (\d+) of \2 layers/m);
    expect(run.code, run.stderr).toBe(0);
    const [, id] = SUBMISSION.exec(run.stdout)!;
    // Where to look at it, and what the team may still submit.
    expect(run.stdout).toContain(`its page: ${stack.url}/submissions/${id}\n`);
    expect(run.stdout).toMatch(
      /^quota: \d+ more submissions? now \(\d+ of \d+ in the last 24 hours, \d+ of \d+ in all\)$/m,
    );
    // The timeline as it happened, then the scores table.
    expect(run.stdout).toMatch(/queued\s+waiting for a worker/);
    // The timeline says it is scored; the scores themselves come from the submission, released.
    expect(run.stdout).toMatch(/scored\s+scored on the hidden test set/);
    for (const task of [
      "Atelectasis",
      "Cardiomegaly",
      "Consolidation",
      "Edema",
      "Pleural Effusion",
      "Mean",
    ]) {
      // AUC, then its 95% interval: at the released precision (3 decimals), no more digits.
      expect(run.stdout).toMatch(
        new RegExp(`^${task}\\s+0\\.\\d{3}\\s+\\[0\\.\\d{3}, [01]\\.\\d{3}\\]`, "m"),
      );
    }
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id: id! } });
    expect(row.state).toBe("scored");
    expect(row.modelName).toBe("CLI baseline");

    const status = await holdout(["status", id!], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("CLI baseline");
    expect(status.stdout).toMatch(/^Mean\s+0\.\d{3}\s+\[0\.\d{3}, [01]\.\d{3}\]\s+\d\.\d$/m);

    const board = await holdout(["leaderboard", "--json", "--server", stack.url], {});
    expect(board.code).toBe(0);
    const entries = (JSON.parse(board.stdout) as { entries: { submissionId: string }[] }).entries;
    if (row.meanAuc! >= stack.competition.aucFloor) {
      expect(entries.map((e) => e.submissionId)).toContain(id);
      const table = await holdout(["leaderboard"], env);
      expect(table.stdout).toMatch(/CLI Team\s+CLI baseline/);
    }

    // Off the public board and back, from the command line.
    const listed = async () =>
      (
        JSON.parse((await holdout(["leaderboard", "--json", "--server", stack.url], {})).stdout) as {
          entries: { submissionId: string }[];
        }
      ).entries.some((e) => e.submissionId === id);
    const wasListed = await listed();
    const hide = await holdout(["hide", id!], env);
    expect(hide.code, hide.stderr).toBe(0);
    expect(hide.stdout).toBe(`submission ${id}  CLI baseline: hidden from the public leaderboard\n`);
    expect(await listed()).toBe(false);
    const unhide = await holdout(["unhide", id!], env);
    expect(unhide.code, unhide.stderr).toBe(0);
    expect(unhide.stdout).toContain("on the public leaderboard when listed");
    expect(await listed()).toBe(wasListed);
    const other = await stack.createTeam("Not Theirs");
    const refused = await holdout(["hide", id!], { ...env, HOLDOUT_TOKEN: other.token });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HOLDOUT_ERR_NOT_FOUND, HTTP 404/);
  }, 600_000);

  it("speaks to another competition of the server with --competition (or HOLDOUT_COMPETITION)", async () => {
    const slug = uniqueName("second");
    const sets = await checkCompetitionSets({ testsetDir: TEST_TESTSET_DIR });
    await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug,
        name: "Second competition",
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: sets.testsetSha256,
        requireApproval: false,
        phases: [
          {
            name: "Test",
            data: "hidden",
            feedback: "released",
            startsAt: new Date(),
            endsAt: null,
            ranked: true,
          },
        ],
      },
    );
    const registered = await fetch(`${stack.url}/api/v1/competitions/${slug}/teams`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: uniqueName("Second Team"),
        institution: "Elsewhere",
        email: `${uniqueName("second")}@example.org`,
        password: "correct horse battery",
        acceptTerms: true,
      }),
    });
    expect(registered.status).toBe(201);
    const { token } = (await registered.json()) as { token: string };
    const there = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: token };
    const model = await tinyShellModelTarball(CONSTANT_PREDICTIONS);

    // Its token means nothing to the main competition: the command must say where it goes.
    const lost = await holdout(["submit", "--tarball", model, "--model", "Lost"], there);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/HTTP 401/);
    const run = await holdout(
      ["submit", "--tarball", model, "--model", "Elsewhere", "--competition", slug, "--wait"],
      there,
    );
    expect(run.code, run.stderr).toBe(0);
    const [, id] = SUBMISSION.exec(run.stdout)!;
    expect(run.stdout).toContain(`its page: ${stack.url}/c/${slug}/submissions/${id}\n`);
    const row = await stack.db.submission.findUniqueOrThrow({
      where: { id: id! },
      include: { competition: true },
    });
    expect(row.competition.slug).toBe(slug);
    const status = await holdout(["status", id!], { ...there, HOLDOUT_COMPETITION: slug });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("Elsewhere");
    const board = await holdout(["leaderboard", "--json", "--server", stack.url, "--competition", slug], {});
    expect(board.code, board.stderr).toBe(0);
    expect((JSON.parse(board.stdout) as { competition: { name: string } }).competition.name).toBe(
      "Second competition",
    );
    const bad = await holdout(["leaderboard", "--competition", "Not A Slug"], there);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--competition must be a competition's slug/);
  }, 600_000);

  it("a broken model: exit 1, the failure category and what to do about it", async () => {
    const run = await holdout(
      ["submit", "--image", "holdout/example-broken-header:latest", "--model", "Broken", "--wait"],
      env,
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/failed \(invalid_output, smoke run\)/);
    expect(run.stdout).toContain("what to do:");
    // No hidden run happened: asking for its log says so, and fails.
    const [, id] = SUBMISSION.exec(run.stdout)!;
    const log = await holdout(["status", id!, "--log", "hidden"], env);
    expect(log.code).toBe(1);
    expect(log.stdout).toBe("");
    expect(log.stderr).toBe(
      `holdout: no hidden-run log: submission ${id} failed in its smoke run, before any hidden run; its log: holdout status ${id} --log smoke\n`,
    );
  }, 600_000);

  it("prints a model's log without the escape sequences and bidi controls it wrote", async () => {
    // A window title, a screen clear, a right-to-left override and a colour reset, then predictions.
    const model = await tinyShellModelTarball(
      `printf '\\033]0;pwned\\007\\033[2Jplain \\342\\200\\256text\\033[0m\\n'; ${CONSTANT_PREDICTIONS}`,
    );
    const run = await holdout(["submit", "--tarball", model, "--model", "Escapes", "--wait"], env);
    expect(run.code, run.stderr).toBe(0);
    const [, id] = SUBMISSION.exec(run.stdout)!;
    // The server keeps the log as the model wrote it; the CLI is what makes it safe to print.
    const stored = (await (
      await fetch(`${stack.url}/api/v1/submissions/${id}/log?phase=smoke`, {
        headers: { authorization: `Bearer ${team.token}` },
      })
    ).json()) as { text: string };
    expect(stored.text).toContain("\x1b]0;pwned\x07\x1b[2Jplain \u202etext\x1b[0m\n");
    const log = await holdout(["status", id!, "--log", "smoke"], env);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toBe("plain text\n");
  }, 600_000);

  it("resumes a piped upload after the connection breaks mid-way (from the server's offset)", async () => {
    // A proxy in front of the API that cuts the first connection once 40 MiB went through it.
    const target = new URL(stack.url);
    let cut = false;
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      let bytes = 0;
      client.on("data", (d: Buffer) => {
        bytes += d.length;
        if (!cut && bytes > 40 * 1024 ** 2) {
          cut = true;
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(d);
      });
      upstream.pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const port = (proxy.address() as net.AddressInfo).port;
      const image = "holdout/example-broken-header:latest";
      const run = await holdout(
        [
          "submit",
          "--image",
          image,
          "--no-layers",
          "--model",
          "Resumed",
          "--chunk-mib",
          "16",
          "--server",
          `http://127.0.0.1:${port}`,
        ],
        env,
      );
      expect(cut).toBe(true);
      expect(run.code, run.stderr).toBe(0);
      const [, id] = SUBMISSION.exec(run.stdout)!;
      const row = await stack.db.submission.findUniqueOrThrow({ where: { id: id! } });
      // Byte for byte what docker save produces: nothing lost or doubled at the break.
      const saved = spawn("docker", ["save", image], { stdio: ["ignore", "pipe", "ignore"] });
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of saved.stdout as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
      }
      expect(Number(row.uploadSize)).toBe(size);
      expect(row.uploadSha256).toBe(hash.digest("hex"));
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  }, 300_000);

  it("packs a code directory with --bundle and sends it with its command", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "holdout-cli-bundle-"));
    try {
      await mkdir(path.join(dir, "src"));
      const baseline = path.join(REPO_ROOT, "docker", "examples", "baseline");
      for (const f of ["predict.py", "weights.json"])
        await copyFile(path.join(baseline, f), path.join(dir, "src", f));
      const command = "python3 src/predict.py {input} {output}";
      const run = await holdout(
        ["submit", "--bundle", dir, "--command", command, "--model", "CLI bundle"],
        env,
      );
      expect(run.code, run.stderr).toBe(0);
      const [, id] = SUBMISSION.exec(run.stdout)!;
      const row = await stack.db.submission.findUniqueOrThrow({ where: { id: id! } });
      expect(row).toMatchObject({ kind: "bundle", command, modelName: "CLI bundle" });
      const extracted = await readFile(path.join(stack.dataDir, row.bundleDir!, "src", "predict.py"), "utf8");
      expect(extracted).toBe(await readFile(path.join(baseline, "predict.py"), "utf8"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("says what is wrong, in one line, and exits 2 on usage errors", async () => {
    const noModel = await holdout(["submit", "--image", BASELINE_IMAGE], env);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toContain("--model");
    const noServer = await holdout(["submit", "--image", "x", "--model", "m"], { HOLDOUT_TOKEN: "t" });
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain("HOLDOUT_SERVER");
    const both = await holdout(["submit", "--image", "x", "--bundle", ".", "--model", "m"], env);
    expect(both.code).toBe(2);
    // A missing image: docker's own reason, and the quota slot given back.
    const missing = await holdout(
      ["submit", "--image", "holdout-test/no-such-image:none", "--model", "m"],
      env,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/docker image inspect holdout-test\/no-such-image:none` failed/);
    const missingWhole = await holdout(
      ["submit", "--image", "holdout-test/no-such-image:none", "--no-layers", "--model", "m"],
      env,
    );
    expect(missingWhole.code).toBe(2);
    expect(missingWhole.stderr).toMatch(/docker save holdout-test\/no-such-image:none` failed/);
    // A server refusal (bad token) as one line with its code.
    const badToken = await holdout(["status", "00000000-0000-0000-0000-000000000000"], {
      ...env,
      HOLDOUT_TOKEN: "nope",
    });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr.trim().split("\n")).toHaveLength(1);
    expect(badToken.stderr).toContain("HOLDOUT_ERR_UNAUTHORIZED");
  }, 120_000);
});
