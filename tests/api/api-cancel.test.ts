import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateJobOptions, QUEUE_EVALUATE } from "@holdout/contracts";
import { createSubmission, markQueued, startRun } from "@holdout/db";
import { startStack, type Stack } from "../support/stack.ts";

// POST /api/v1/submissions/:id/cancel against the real API, PostgreSQL and BullMQ (no worker runs,
// so queued submissions stay queued with their jobs waiting).

describe("cancelling a submission", () => {
  let stack: Stack;
  let owner: { id: string; token: string };
  let other: { id: string; token: string };
  let organizer: { token: string };

  beforeAll(async () => {
    stack = await startStack();
    owner = await stack.createTeam();
    other = await stack.createTeam();
    organizer = await stack.createOrganizer();
  });
  afterAll(() => stack?.close());

  /** A queued submission with its job waiting in BullMQ, as the upload route leaves it. */
  async function queued(teamId: string) {
    const id = randomUUID();
    await createSubmission(stack.db, {
      id,
      competitionId: stack.competition.id,
      teamId,
      modelName: "To cancel",
      description: null,
      link: null,
      ensemble: false,
      uploadFile: `${id}.tar`,
      uploadSize: 10,
      uploadSha256: "0".repeat(64),
    });
    await markQueued(stack.db, id);
    await stack.queue.add(QUEUE_EVALUATE, { submissionId: id }, evaluateJobOptions(id));
    return id;
  }

  const cancel = async (id: string, token: string) => {
    const res = await fetch(`${stack.url}/api/v1/submissions/${id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("cancels a queued submission at once and takes its job off the queue", async () => {
    const id = await queued(owner.id);
    expect(await (await stack.queue.getJob(id))?.getState()).toBe("waiting");
    const res = await cancel(id, owner.token);
    expect(res).toEqual({ status: 200, body: { id, outcome: "cancelled", state: "cancelled" } });
    expect(await stack.queue.getJob(id)).toBeUndefined();
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id } });
    expect(row.state).toBe("cancelled");
    expect(row.cancelRequestedAt).not.toBeNull();
    const events = await stack.db.submissionEvent.findMany({
      where: { submissionId: id },
      orderBy: { id: "asc" },
    });
    expect(events.map((e) => e.state)).toEqual(["received", "queued", "cancelled"]);

    // Final now: a second cancel is a conflict, said clearly.
    const again = await cancel(id, owner.token);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "HOLDOUT_ERR_ALREADY_FINAL", status: 409 });
    expect(String(again.body.detail)).toContain("already cancelled");
  });

  it("is for the owner and organizers: another team gets 404 and changes nothing", async () => {
    const id = await queued(owner.id);
    const stranger = await cancel(id, other.token);
    expect(stranger.status).toBe(404);
    expect((await stack.db.submission.findUniqueOrThrow({ where: { id } })).state).toBe("queued");
    const byOrganizer = await cancel(id, organizer.token);
    expect(byOrganizer.body).toMatchObject({ outcome: "cancelled" });
  });

  it("asks the worker to stop a running one (it stays running until the worker does)", async () => {
    const id = await queued(owner.id);
    await startRun(stack.db, id, { worker: "worker-z", leaseMs: 60_000 });
    const res = await cancel(id, owner.token);
    expect(res.body).toMatchObject({ outcome: "stopping", state: "running" });
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id } });
    expect(row.state).toBe("running");
    expect(row.cancelRequestedAt).not.toBeNull();
  });
});
