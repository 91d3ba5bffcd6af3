import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authenticateToken,
  createDb,
  createSubmission,
  createTeamWithToken,
  ensureCompetition,
  listSubmissionEvents,
  markFailed,
  markQueued,
  markRunning,
  markScoring,
  recordHeartbeat,
  recordScore,
  requestCancel,
  returnToQueue,
  TeamNameTakenError,
  type Db,
} from "../src/index.ts";

const DATABASE_URL =
  process.env.HOLDOUT_TEST_DATABASE_URL ?? "postgresql://holdout:holdout@127.0.0.1:5432/holdout_test";
const unique = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

describe("submission repository (real PostgreSQL)", () => {
  let db: Db;
  let competitionId: string;
  let teamId: string;

  beforeAll(async () => {
    db = createDb(DATABASE_URL, { poolSize: 2 });
    competitionId = (await ensureCompetition(db, { slug: unique("comp"), name: "C" })).id;
    teamId = (await createTeamWithToken(db, { competitionId, name: unique("team") })).team.id;
  });
  afterAll(() => db?.$disconnect());

  async function newSubmission() {
    const id = randomUUID();
    await createSubmission(db, {
      id,
      competitionId,
      teamId,
      modelName: "m",
      description: null,
      link: null,
      ensemble: false,
      uploadFile: `${id}.tar`,
      uploadSize: 10,
      uploadSha256: "0".repeat(64),
    });
    return id;
  }

  const score = {
    meanAuc: 0.9,
    meanRadsBelowCurve: 2,
    score: 0.902,
    tasks: [
      {
        task: "Edema",
        auc: 0.9,
        radsBelowCurve: 2,
        roc: [[0, 0] as [number, number], [1, 1] as [number, number]],
      },
    ],
  };

  it("walks the happy path and records each step as an event", async () => {
    const id = await newSubmission();
    expect(await markQueued(db, id)).toBe(true);
    expect(await markRunning(db, id, "w1")).toBe(true);
    expect(await markScoring(db, id, "w1", { digest: "sha256:abc", size: 5 })).toBe(true);
    expect(await recordScore(db, id, score, "w1")).toBe(true);
    const events = await listSubmissionEvents(db, id);
    expect(events.map((e) => e.state)).toEqual(["received", "queued", "running", "scoring", "scored"]);
    const row = await db.submission.findUniqueOrThrow({ where: { id }, include: { results: true } });
    expect(row).toMatchObject({ state: "scored", meanAuc: 0.9, attempts: 1, imageDigest: "sha256:abc" });
    expect(row.results).toHaveLength(1);
  });

  it("writes a score once: a retried job cannot record twice", async () => {
    const id = await newSubmission();
    await markQueued(db, id);
    await markRunning(db, id, "w1");
    await markScoring(db, id, "w1", { digest: "sha256:abc", size: 5 });
    const [a, b] = await Promise.all([recordScore(db, id, score, "w1"), recordScore(db, id, score, "w2")]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    expect(await db.taskResult.count({ where: { submissionId: id } })).toBe(1);
    expect((await listSubmissionEvents(db, id)).filter((e) => e.state === "scored")).toHaveLength(1);
  });

  it("refuses transitions out of a final state", async () => {
    const id = await newSubmission();
    await markQueued(db, id);
    expect(await markFailed(db, id, "nonzero_exit", "exit 1")).toBe(true);
    expect(await markRunning(db, id, "w1")).toBe(false);
    expect(await markFailed(db, id, "infrastructure", "again")).toBe(false);
    const row = await db.submission.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ state: "failed", failureCategory: "nonzero_exit", failureMessage: "exit 1" });
  });

  it("a failure in the smoke run is refunded and says the hidden run was not spent; a hidden-run failure is charged", async () => {
    const smoke = await newSubmission();
    await markQueued(db, smoke);
    await markRunning(db, smoke, "w1");
    expect(await markFailed(db, smoke, "timeout", "too slow", "w1", { phase: "smoke" })).toBe(true);
    expect(await db.submission.findUniqueOrThrow({ where: { id: smoke } })).toMatchObject({
      failedPhase: "smoke",
      refunded: true,
    });
    expect((await listSubmissionEvents(db, smoke)).at(-1)?.detail).toMatch(/hidden run was not spent/);
    const hidden = await newSubmission();
    await markQueued(db, hidden);
    await markRunning(db, hidden, "w1");
    await markFailed(db, hidden, "timeout", "too slow", "w1", { phase: "hidden" });
    expect(await db.submission.findUniqueOrThrow({ where: { id: hidden } })).toMatchObject({
      failedPhase: "hidden",
      refunded: false,
    });
  });

  it("requestCancel: a queued submission is cancelled at once; a running one is flagged for its worker", async () => {
    const queued = await newSubmission();
    await markQueued(db, queued);
    expect(await requestCancel(db, queued)).toEqual({ outcome: "cancelled", state: "cancelled" });
    expect(await markRunning(db, queued, "w1")).toBe(false);

    const running = await newSubmission();
    await markQueued(db, running);
    await markRunning(db, running, "w1");
    expect(await requestCancel(db, running)).toEqual({ outcome: "stopping", state: "running" });
    expect(await requestCancel(db, running)).toEqual({ outcome: "stopping", state: "running" });
    // The worker learns it at its heartbeat; a restarted run would not begin.
    const worker = { name: unique("w"), host: "h", pid: 1, concurrency: 1, startedAt: new Date() };
    await db.submission.update({ where: { id: running }, data: { worker: worker.name } });
    expect(await recordHeartbeat(db, worker, [running])).toEqual([running]);
    expect(await returnToQueue(db, running, { detail: "handed back" })).toBe(true);
    expect(await markRunning(db, running, "w2")).toBe(false);
    expect(await requestCancel(db, randomUUID())).toBeNull();
    const final = await newSubmission();
    await markFailed(db, final, "nonzero_exit", "exit 1");
    expect(await requestCancel(db, final)).toEqual({ outcome: "final", state: "failed" });
    await db.workerHeartbeat.delete({ where: { name: worker.name } });
  });

  it("stores tokens hashed and rejects unknown ones; team names are unique per competition", async () => {
    const name = unique("team");
    const { token, team } = await createTeamWithToken(db, { competitionId, name });
    const stored = await db.apiToken.findFirstOrThrow({ where: { teamId: team.id } });
    expect(stored.tokenHash).not.toContain(token);
    expect(stored.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await authenticateToken(db, token))?.id).toBe(team.id);
    expect(await authenticateToken(db, `${token}x`)).toBeNull();
    await expect(createTeamWithToken(db, { competitionId, name })).rejects.toBeInstanceOf(TeamNameTakenError);
  });
});
