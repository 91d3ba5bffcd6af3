import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ARTIFACTS_DIR } from "../support/env.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const run = promisify(execFile);

// The example submissions under docker/examples, built by docker/build-images.sh, each submitted
// through the real API and worker: the broken ones end with the verdict their README promises.
describe("the example submissions end as their READMEs say", () => {
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    stack = await startStack({ worker: true, workerEnv: { HOLDOUT_RUN_TIMEOUT_SECONDS: "5" } });
    ({ token } = await stack.createTeam());
  });
  afterAll(() => stack?.close());

  async function submitExample(name: string) {
    const image = `holdout/example-${name}:latest`;
    const { stdout: id } = await run("docker", ["image", "inspect", "--format", "{{.Id}}", image]);
    const file = path.join(TEST_ARTIFACTS_DIR, `example-${name}-${id.trim().slice(7, 19)}.tar`);
    if (!existsSync(file)) await run("docker", ["save", "-o", file, image]);
    const { status, body } = await uploadImage(stack.url, token, file, { model: `example ${name}` });
    expect(status).toBe(202);
    return waitForFinal(stack.url, token, body.id, 120_000);
  }

  it.each([
    ["broken-header", "invalid_output", /Cardiomegaly|column/],
    ["per-image", "invalid_output", /per study|view/i],
    ["nan", "invalid_output", /NaN/],
    ["crash", "nonzero_exit", /exited with code/],
    ["sleeper", "timeout", /longer than 5 s/],
  ])("%s → %s", async (name, category, message) => {
    const r = await submitExample(name);
    expect(r.state).toBe("failed");
    expect(r.failure?.category).toBe(category);
    expect(r.failure?.message).toMatch(message);
  });

  it("constant → scored, AUC exactly 0.5 on every task", async () => {
    const r = (await submitExample("constant")) as unknown as { state: string; tasks: { auc: number }[] };
    expect(r.state).toBe("scored");
    expect(r.tasks.map((t) => t.auc)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
  });
});
