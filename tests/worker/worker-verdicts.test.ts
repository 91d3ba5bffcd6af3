import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ARTIFACTS_DIR, uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball, tarBuffer } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// What a team sees when its model misbehaves: each failure is a final state with a category
// from the closed set and a message saying what happened, and nothing is left in Docker.
describe("the worker turns each kind of model failure into a clear verdict", () => {
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    stack = await startStack({ worker: true, workerEnv: { HOLDOUT_RUN_TIMEOUT_SECONDS: "5" } });
    ({ token } = await stack.createTeam());
  });
  afterAll(() => stack?.close());

  async function submit(file: string, model = uniqueName("model")) {
    const { status, body } = await uploadImage(stack.url, token, file, { model });
    expect(status).toBe(202);
    const { id } = body;
    const final = await waitForFinal(stack.url, token, id, 120_000);
    const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=holdout.submission=${id}`]);
    expect(stdout.trim(), "containers left behind").toBe("");
    return { id, ...final };
  }

  it("a model that exits non-zero: nonzero_exit in the smoke run, with its log readable", async () => {
    const r = await submit(
      await shellModelTarball('echo "loading weights"; echo "boom: no GPU" >&2; exit 3'),
    );
    expect(r.state).toBe("failed");
    expect(r.failure?.category).toBe("nonzero_exit");
    expect(r.failure?.message).toMatch(/3/);
    // It never got past the smoke run on development studies: its log is readable in full.
    expect(r).toMatchObject({ failedPhase: "smoke", refunded: true });
    const log = (await (
      await fetch(`${stack.url}/api/v1/submissions/${r.id}/log?phase=smoke`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { text: string };
    expect(log.text).toContain("boom: no GPU");
  });

  it("a model that writes nothing: no_output", async () => {
    const r = await submit(await shellModelTarball("true"));
    expect(r.failure?.category).toBe("no_output");
  });

  it("a model that writes its file under another name: no_output in the smoke run, saying what /out holds", async () => {
    const r = await submit(await shellModelTarball("echo 0.5 > /out/preds.csv; mkdir /out/cache"));
    expect(r).toMatchObject({ state: "failed", failedPhase: "smoke", refunded: true });
    expect(r.failure).toMatchObject({
      category: "no_output",
      message:
        'the model did not write /out/predictions.csv; /out holds: "cache" (a directory), "preds.csv" (4 bytes)',
    });
  });

  it("no_output in the hidden run: the team reads the fixed text, organizers what /out held", async () => {
    // Valid on the development studies; on the test set, a file named after a test patient instead.
    const script = `if grep -q /test/ "$0"; then : > "/out/$(sed -n 2p "$0" | cut -d/ -f3)"; else ${CONSTANT_PREDICTIONS}; fi`;
    const r = await submit(await shellModelTarball(script));
    expect(r).toMatchObject({ state: "failed", failedPhase: "hidden" });
    expect(r.failure?.category).toBe("no_output");
    expect(r.failure?.message).toMatch(/^the model wrote no predictions file in the hidden run/);
    const events = await (
      await fetch(`${stack.url}/api/v1/submissions/${r.id}/events`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).text();
    for (const seenByTeam of [JSON.stringify(r), events]) {
      expect(seenByTeam).not.toContain("patient");
      expect(seenByTeam).not.toContain("/out holds");
    }
    const organizer = await stack.createOrganizer();
    const seen = (await (
      await fetch(`${stack.url}/api/v1/submissions/${r.id}`, {
        headers: { authorization: `Bearer ${organizer.token}` },
      })
    ).json()) as { failure: { detail: string } };
    expect(seen.failure.detail).toMatch(
      /^the model did not write \/out\/predictions\.csv; \/out holds: "patient\d+" \(0 bytes\)$/,
    );
  });

  it("a model that writes a broken CSV: invalid_output naming the problem", async () => {
    const r = await submit(await shellModelTarball('printf "Study,Atelectasis\\nfoo,1\\n" > "$1"'));
    expect(r.failure?.category).toBe("invalid_output");
    expect(r.failure?.message).toMatch(/Cardiomegaly/);
  });

  it("a model that runs past the wall clock: timeout", async () => {
    const r = await submit(await shellModelTarball("sleep 600"));
    expect(r.failure?.category).toBe("timeout");
  });

  it("a tarball that is not a Docker image: image_rejected", async () => {
    const file = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("not-an-image")}.tar`);
    await writeFile(file, await tarBuffer({ "hello.txt": "not an image" }));
    const r = await submit(file);
    expect(r.failure?.category).toBe("image_rejected");
    expect(r.failure?.message).toMatch(/manifest/);
  });

  it("a code bundle sent as an image: image_rejected, saying it goes in the bundle field", async () => {
    const file = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("bundle-as-image")}.tar.gz`);
    await writeFile(file, gzipSync(await tarBuffer({ "src/predict.py": "print('hello')\n" })));
    const r = await submit(file);
    expect(r.failure?.category).toBe("image_rejected");
    expect(r.failure?.message).toMatch(
      /holds source code \("src\/predict\.py"\); a code bundle is sent in the `bundle` field/,
    );
  });

  it("a constant model is scored (AUC 0.5) but stays off the leaderboard, under the AUC floor", async () => {
    const r = await submit(await shellModelTarball(CONSTANT_PREDICTIONS), "Constant");
    expect(r.state).toBe("scored");
    const scored = r as unknown as { meanAuc: number; meanRadsBelowCurve: number };
    expect(scored.meanAuc).toBe(0.5);
    const board = (await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as {
      entries: { model: string }[];
    };
    expect(board.entries.map((e) => e.model)).not.toContain("Constant");
    // Others cannot see an unlisted submission at all.
    const other = await stack.createTeam();
    const res = await fetch(`${stack.url}/api/v1/submissions/${r.id}`, {
      headers: { authorization: `Bearer ${other.token}` },
    });
    expect(res.status).toBe(404);
  });
});
