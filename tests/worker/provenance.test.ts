import { execFile } from "node:child_process";
import { openAsBlob } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProvenanceView } from "@holdout/contracts/http";
import { contentSha256 } from "@holdout/testset";
import {
  BASELINE_IMAGE,
  BASELINE_TARBALL,
  REPO_ROOT,
  TEST_ARTIFACTS_DIR,
  TEST_TESTSET_DIR,
  uniqueName,
} from "../support/env.ts";
import { imageId } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// Every score carries where it came from: the model that ran (the image's ID, or the runtime image
// for a bundle), the upload's hash, the scorer and its version, the test set's content hash, the
// worker, the limits and the runs' times. Its team and the organizers read it; another team and
// the public read none of it, though the entry is listed.
describe("provenance of a score", () => {
  let stack: Stack;
  let owner: { id: string; token: string };
  let other: { id: string; token: string };
  let organizer: { token: string };
  let testsetSha256: string;
  const ids: { image: string; bundle: string } = { image: "", bundle: "" };

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    owner = await stack.createTeam();
    other = await stack.createTeam();
    organizer = await stack.createOrganizer();
    testsetSha256 = await contentSha256(TEST_TESTSET_DIR);
    const bundle = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("bundle-provenance")}.tar.gz`);
    await run("bash", [path.join(REPO_ROOT, "docker/examples/bundle-baseline/pack.sh"), bundle]);
    const image = await uploadImage(stack.url, owner.token, BASELINE_TARBALL, { model: "Baseline image" });
    expect(image.status).toBe(202);
    const fd = new FormData();
    fd.append("model", "Baseline bundle");
    fd.append("bundle", await openAsBlob(bundle), "bundle.tar.gz");
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${owner.token}` },
      body: fd,
    });
    expect(res.status).toBe(202);
    ids.image = image.body.id;
    ids.bundle = ((await res.json()) as { id: string }).id;
    for (const id of [ids.image, ids.bundle]) {
      const final = await waitForFinal(stack.url, owner.token, id);
      expect(final.failure, JSON.stringify(final.failure)).toBeNull();
    }
  }, 400_000);
  afterAll(() => stack?.close());

  const detail = async (id: string, token?: string) => {
    const res = await fetch(`${stack.url}/api/v1/submissions/${id}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: res.status, text: await res.text() };
  };
  const page = async (id: string, token?: string) =>
    (
      await fetch(`${stack.url}/submissions/${id}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      })
    ).text();

  function expectRuns(p: ProvenanceView) {
    expect(p.scorer).toBe("chexpert");
    expect(p.scorerVersion).toBe("1");
    expect(p.bootstrap).toEqual({ replicates: 2000, seed: 20_190_101 });
    expect(p.dataset).toBe("hidden");
    expect(p.testsetSha256).toBe(testsetSha256);
    expect(p.worker).toBe(`${stack.prefix}-worker-1`);
    expect(p.limits).toMatchObject({
      memoryBytes: 1024 * 1024 * 1024,
      wallClockMs: 300_000,
      network: "none",
      gpu: null,
    });
    expect(p.smokeLimits?.network).toBe("none");
    const t = (s: string) => Date.parse(s);
    expect(p.smokeRun).not.toBeNull();
    expect(t(p.smokeRun!.startedAt)).toBeLessThanOrEqual(t(p.smokeRun!.endedAt));
    expect(t(p.smokeRun!.endedAt)).toBeLessThanOrEqual(t(p.run.startedAt));
    expect(t(p.run.startedAt)).toBeLessThanOrEqual(t(p.run.endedAt));
    expect(p.testsetChanged).toBeNull();
  }

  it("is recorded for an image and shown to its team in the API and on its page", async () => {
    const { status, text } = await detail(ids.image, owner.token);
    expect(status).toBe(200);
    const body = JSON.parse(text) as {
      image: { digest: string };
      upload: { sha256: string };
      provenance: ProvenanceView;
      scoreRevisions?: unknown;
    };
    expect(body.provenance.imageId).toBe(body.image.digest);
    expect(body.provenance.imageId).toBe(await imageId(BASELINE_IMAGE));
    expect(body.provenance.runtimeImage).toBeNull();
    expect(body.provenance.uploadSha256).toBe(body.upload.sha256);
    expectRuns(body.provenance);
    // The re-scores' full-precision figures are the organizers' alone.
    expect(body.scoreRevisions).toBeUndefined();
    const html = await page(ids.image, owner.token);
    expect(html).toContain("<h2>Provenance</h2>");
    expect(html).toContain(testsetSha256);
    expect(html).toMatch(/image ID \(config digest\) sha256:[0-9a-f]{64}/);
    expect(html).toMatch(/network none, GPU none/);
  });

  it("names the runtime image a bundle ran in", async () => {
    const body = JSON.parse((await detail(ids.bundle, owner.token)).text) as { provenance: ProvenanceView };
    expect(body.provenance.runtimeImage).toBe(BASELINE_IMAGE);
    expect(body.provenance.imageId).toBe(await imageId(BASELINE_IMAGE));
    expectRuns(body.provenance);
    expect(await page(ids.bundle, owner.token)).toContain(`runtime image ${BASELINE_IMAGE}, ID sha256:`);
  });

  it("is shown to organizers with the (empty) history of re-scores", async () => {
    const body = JSON.parse((await detail(ids.image, organizer.token)).text) as {
      provenance: ProvenanceView;
      scoreRevisions: unknown[];
    };
    expect(body.provenance.testsetSha256).toBe(testsetSha256);
    expect(body.scoreRevisions).toEqual([]);
  });

  it("is never shown to another team or the public, though the entry is listed", async () => {
    for (const token of [other.token, undefined]) {
      for (const id of [ids.image, ids.bundle]) {
        const { status, text } = await detail(id, token);
        expect(status).toBe(200); // the leaderboard's fields of a listed entry
        const body = JSON.parse(text) as Record<string, unknown>;
        expect(body.meanAuc).toEqual(expect.any(Number));
        expect(body).not.toHaveProperty("provenance");
        for (const secret of [testsetSha256, stack.prefix, "bootstrap", "scorerVersion"]) {
          expect(text).not.toContain(secret);
        }
        const html = await page(id, token);
        expect(html).not.toContain("Provenance");
        expect(html).not.toContain(testsetSha256);
        expect(html).not.toContain(stack.prefix);
      }
    }
  });

  it("says 'not recorded' for a score from before provenance was kept", async () => {
    await stack.db.scoreProvenance.delete({ where: { submissionId: ids.bundle } });
    const body = JSON.parse((await detail(ids.bundle, owner.token)).text) as { provenance: unknown };
    expect(body.provenance).toBeNull();
    expect(await page(ids.bundle, owner.token)).toMatch(/Provenance: not recorded/);
  });
});
