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
  recordScore,
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
