import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker } from "@holdout/sandbox";
import { uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const docker = connectDocker();
const NO_ROOM = "no worker had room for this upload for 2 seconds; it is not charged to your team";

// A worker short of disk space puts a submission back in the queue, uncharged, for another worker
// (or itself, later) to take. An upload that no worker ever has room for must not wait for ever:
// past HOLDOUT_DISK_WAIT_SECONDS it fails as `infrastructure`, refunded, and says why.
describe("a submission no worker has room for", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ worker: false, quota: { perDay: 10, total: 10 } });
  });
  afterAll(() => stack?.close());

  const get = async <T>(token: string, path: string): Promise<T> => {
    const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };

  it("fails as infrastructure once the wait is over: not charged, never started, nothing left behind", async () => {
    // A reserve larger than any disk here: this worker never has room.
    await stack.startWorker({ HOLDOUT_DISK_MIN_FREE_MB: "100000000", HOLDOUT_DISK_WAIT_SECONDS: "2" });
    const { token } = await stack.createTeam();
    const file = await tinyShellModelTarball(CONSTANT_PREDICTIONS);
    const { status, body } = await uploadImage(stack.url, token, file, { model: uniqueName("no-room") });
    expect(status).toBe(202);

    const final = await waitForFinal(stack.url, token, body.id, 120_000);
    expect(final).toMatchObject({
      state: "failed",
      refunded: true,
      failure: { category: "infrastructure", message: NO_ROOM },
    });
    const { events } = await get<{ events: { state: string; detail: string | null }[] }>(
      token,
      `/api/v1/submissions/${body.id}/events`,
    );
    expect(events.at(-1)).toMatchObject({ state: "failed", detail: `infrastructure: ${NO_ROOM}` });
    expect(events.map((e) => e.state)).not.toContain("running");
    expect(await get<{ usedTotal: number }>(token, "/api/v1/quota")).toMatchObject({ usedTotal: 0 });

    // It was put back first (the wait began), and its job ended rather than failing to be retried.
    const job = await stack.queue.getJob(body.id);
    expect(await job?.getState()).toBe("completed");
    expect(job?.data.waitingForSpaceSince).toEqual(expect.any(Number));
    // No run took it: no lease, no attempt, no worker; and nothing of it on the engine.
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id: body.id } });
    expect(row).toMatchObject({ leaseToken: null, leaseExpiresAt: null, attempts: 0, worker: null });
    const label = JSON.stringify({ label: [`holdout.submission=${body.id}`] });
    expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
    expect((await docker.listVolumes({ filters: label })).Volumes ?? []).toEqual([]);
  });
});
