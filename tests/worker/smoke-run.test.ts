import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// Every submission first runs on a few development-set studies (public labels). A model that fails
// there ends failed in phase `smoke`, refunded, with its whole log readable, and the hidden test
// set is never touched; one that passes goes on to the hidden run.
describe("the smoke run before the hidden run", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      quota: { perDay: 10, total: 10 },
      workerEnv: { HOLDOUT_RUN_TIMEOUT_SECONDS: "60", HOLDOUT_SMOKE_STUDIES: "4" },
    });
  });
  afterAll(() => stack?.close());

  const get = async <T>(token: string, path: string): Promise<T> => {
    const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const events = (token: string, id: string) =>
    get<{ events: { state: string; detail: string | null }[] }>(
      token,
      `/api/v1/submissions/${id}/events`,
    ).then((b) => b.events.map((e) => e.detail ?? ""));

  it("a model that passes the smoke run is then run on the hidden set and scored", async () => {
    const { token } = await stack.createTeam();
    // The model logs how many images it was given: 4 studies' worth in the smoke run, all in the hidden run.
    const file = await shellModelTarball(`echo "images: $(($(wc -l < "$0") - 1))"; ${CONSTANT_PREDICTIONS}`);
    const { status, body } = await uploadImage(stack.url, token, file, { model: uniqueName("ok") });
    expect(status).toBe(202);
    const final = await waitForFinal(stack.url, token, body.id, 180_000);
    expect(final.state).toBe("scored");
    expect(final).toMatchObject({ refunded: false, failedPhase: null });

    const timeline = await events(token, body.id);
    const at = (text: string) => timeline.findIndex((d) => d.startsWith(text));
    expect(at("smoke run started on 4 development-set studies")).toBeGreaterThan(-1);
    expect(at("smoke run passed")).toBeGreaterThan(at("smoke run started"));
    expect(at("hidden run started")).toBeGreaterThan(at("smoke run passed"));

    const smoke = await get<{ text: string }>(token, `/api/v1/submissions/${body.id}/log?phase=smoke`);
    const count = (log: string) => Number(/images: (\d+)/.exec(log)?.[1]);
    expect(count(smoke.text)).toBeGreaterThanOrEqual(4);
    expect(count(smoke.text)).toBeLessThan(12);
    // The hidden run's log is the organizers' (the team's is withheld by default): it saw every image.
    const hidden = `/api/v1/submissions/${body.id}/log?phase=hidden`;
    expect((await get<{ text: string }>(token, hidden)).text).not.toMatch(/images: \d/);
    const organizer = await stack.createOrganizer();
    expect(count((await get<{ text: string }>(organizer.token, hidden)).text)).toBeGreaterThan(400);
  });

  it("a model that crashes in the smoke run: failed in phase smoke, refunded, hidden run never started", async () => {
    const { token } = await stack.createTeam();
    const before = await get<{ usedTotal: number; remaining: number }>(token, "/api/v1/quota");
    const file = await shellModelTarball('echo "Traceback: weights.pt not found" >&2; exit 2');
    const { status, body } = await uploadImage(stack.url, token, file, { model: uniqueName("crash") });
    expect(status).toBe(202);
    const final = await waitForFinal(stack.url, token, body.id, 120_000);
    expect(final.state).toBe("failed");
    expect(final.failure?.category).toBe("nonzero_exit");
    expect(final).toMatchObject({ failedPhase: "smoke", refunded: true });

    const timeline = await events(token, body.id);
    expect(timeline.some((d) => d.startsWith("hidden run started"))).toBe(false);
    expect(timeline.at(-1)).toMatch(/smoke run.*hidden run was not spent/);
    const smoke = await get<{ text: string }>(token, `/api/v1/submissions/${body.id}/log?phase=smoke`);
    expect(smoke.text).toContain("Traceback: weights.pt not found");
    const hidden = await get<{ text: string }>(token, `/api/v1/submissions/${body.id}/log?phase=hidden`);
    expect(hidden.text).toBe("");
    // Not charged: the quota is as it was before the upload.
    const after = await get<{ usedTotal: number; remaining: number }>(token, "/api/v1/quota");
    expect(after).toMatchObject({ usedTotal: before.usedTotal, remaining: before.remaining });
  });

  it("smoke output that is not valid predictions for the sample: invalid_output in phase smoke", async () => {
    const { token } = await stack.createTeam();
    const file = await shellModelTarball(
      'printf "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion\\nnot-a-study,1,1,1,1,1\\n" > "$1"',
    );
    const { body } = await uploadImage(stack.url, token, file, { model: uniqueName("bad-rows") });
    const final = await waitForFinal(stack.url, token, body.id, 120_000);
    expect(final.failure?.category).toBe("invalid_output");
    expect(final.failure?.message).toMatch(/not-a-study/);
    expect(final).toMatchObject({ failedPhase: "smoke", refunded: true });
  });
});
