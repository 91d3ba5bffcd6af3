import { execFile } from "node:child_process";
import { openAsBlob } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, TEST_ARTIFACTS_DIR, uniqueName } from "../support/env.ts";
import { startStack, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// A code bundle goes the way an image goes: uploaded with its command, queued, charged, run (smoke,
// then hidden) in the competition's runtime image with its files beside the test set's in a
// read-only /workspace, and scored. A command that cannot run without a shell is refused at upload.
describe("code bundles through the API and the worker", () => {
  let stack: Stack;
  let bundle: string;

  beforeAll(async () => {
    stack = await startStack({ worker: true, quota: { perDay: 10, total: 10 } });
    bundle = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("bundle-baseline")}.tar.gz`);
    await run("bash", [path.join(REPO_ROOT, "docker/examples/bundle-baseline/pack.sh"), bundle]);
  });
  afterAll(() => stack?.close());

  async function uploadBundle(token: string, fields: Record<string, string>) {
    const fd = new FormData();
    for (const [name, value] of Object.entries(fields)) fd.append(name, value);
    fd.append("bundle", await openAsBlob(bundle), "bundle.tar.gz");
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: fd,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const quota = async (token: string) =>
    (await (
      await fetch(`${stack.url}/api/v1/quota`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { usedTotal: number };

  it(
    "the baseline packed as a bundle is queued, charged, run and scored like the image",
    { timeout: 300_000 },
    async () => {
      const { token } = await stack.createTeam();
      const { status, body } = await uploadBundle(token, {
        model: "Baseline bundle",
        command: "python3 src/predict.py {input} '{output}'",
      });
      expect(status).toBe(202);
      expect(body.state).toBe("queued");
      expect((await quota(token)).usedTotal).toBe(1);
      const final = await waitForFinal(stack.url, token, String(body.id));
      expect(final.failure).toBeNull();
      expect(final.state).toBe("scored");
      expect((final as unknown as { meanAuc: number }).meanAuc).toBeGreaterThan(0.7);
      // Its page names the image it ran in as the competition's runtime image, not the team's.
      const page = await (
        await fetch(`${stack.url}/submissions/${String(body.id)}`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).text();
      expect(page).toMatch(/<dt>Kind<\/dt><dd>code bundle<\/dd>/);
      expect(page).toMatch(/<dt>Runtime image<\/dt><dd><code>sha256:[0-9a-f]{64} /);
      // Each run's assembled workspace is gone afterwards.
      const runs = path.join(stack.workDir, "runs");
      for (const dir of await readdir(runs)) expect(await readdir(path.join(runs, dir))).toEqual([]);
    },
  );

  it.each([
    ["a pipe", "python3 src/predict.py {input} {output} | tee log", /"\|" at character 41 is shell syntax/],
    ["a variable", "python3 src/predict.py $INPUT {output}", /"\$" at character 24 is shell syntax/],
    [
      "an unclosed quote",
      "python3 'src/predict.py {input} {output}",
      /single quote at character 9 is never closed/,
    ],
    ["an unknown placeholder", "python3 src/predict.py {input} {ouput}", /unknown placeholder \{ouput\}/],
  ])(
    "a command with %s is refused at upload, saying why, charging nothing",
    async (_what, command, reason) => {
      const { token } = await stack.createTeam();
      // Files only: the upload code's own staging directories may appear with the first upload.
      const stored = async () =>
        (await readdir(stack.dataDir, { recursive: true, withFileTypes: true }))
          .filter((e) => e.isFile())
          .map((e) => path.join(e.parentPath, e.name))
          .sort();
      const before = await stored();
      const { status, body } = await uploadBundle(token, { model: uniqueName("bad-command"), command });
      expect(status).toBe(400);
      expect(body.code).toBe("HOLDOUT_ERR_INVALID_FIELD");
      expect(String(body.detail)).toMatch(/`command`/);
      expect(String(body.detail)).toMatch(reason);
      expect((await quota(token)).usedTotal).toBe(0);
      const list = (await (
        await fetch(`${stack.url}/api/v1/submissions`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { submissions: unknown[] };
      expect(list.submissions).toEqual([]);
      expect(await stored(), "files left behind").toEqual(before);
    },
  );
});
