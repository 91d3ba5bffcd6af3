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
  markScoring,
  noteRunning,
  recordHeartbeat,
  recordScore,
  releaseRun,
  requestCancel,
  returnToQueue,
  saveSubmissionLog,
  SCORED_DETAIL,
  startRun,
  TeamNameTakenError,
  type Db,
  type RunLease,
} from "../src/index.ts";
import { DATABASE_URL, newSubmission as submissionRow, unique } from "./support.ts";

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
    await createSubmission(
      db,
      submissionRow({ id, competitionId, teamId, uploadFile: `${id}.tar`, uploadSize: 10 }),
    );
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

  const LEASE_MS = 60_000;
  async function start(id: string, worker: string, leaseMs = LEASE_MS): Promise<RunLease> {
    const { lease } = await startRun(db, id, { worker, leaseMs });
    if (!lease) throw new Error(`${worker} could not start ${id}`);
    return lease;
  }
  const workerIdentity = (name: string) => ({
    name,
    host: "h",
    pid: 1,
    concurrency: 1,
    startedAt: new Date(),
  });

  it("walks the happy path and records each step as an event", async () => {
    const id = await newSubmission();
    expect(await markQueued(db, id)).toBe(true);
    const lease = await start(id, "w1");
    expect(await markScoring(db, lease, { digest: "sha256:abc", size: 5 })).toBe(true);
    expect(await recordScore(db, lease, score)).toBe(true);
    const events = await listSubmissionEvents(db, id);
    expect(events.map((e) => e.state)).toEqual(["received", "queued", "running", "scoring", "scored"]);
    const row = await db.submission.findUniqueOrThrow({ where: { id }, include: { results: true } });
    expect(row).toMatchObject({
      state: "scored",
      meanAuc: 0.9,
      attempts: 1,
      imageDigest: "sha256:abc",
      leaseToken: null,
      leaseExpiresAt: null,
    });
    expect(row.results).toHaveLength(1);
  });

  it("writes a score once: a retried job cannot record twice", async () => {
    const id = await newSubmission();
    await markQueued(db, id);
    const lease = await start(id, "w1");
    await markScoring(db, lease, { digest: "sha256:abc", size: 5 });
    const [a, b] = await Promise.all([recordScore(db, lease, score), recordScore(db, lease, score)]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    expect(await db.taskResult.count({ where: { submissionId: id } })).toBe(1);
    expect((await listSubmissionEvents(db, id)).filter((e) => e.state === "scored")).toHaveLength(1);
  });

  it("stores every figure bit for bit, curves included, where 16 significant digits would not do", async () => {
    // Doubles that 16 significant digits do not hold: a writer keeping 16 would change them.
    const d = [
      1 / 300,
      38 / 300,
      112 / 300,
      149 / 300,
      1 / 301,
      38 / 301,
      75 / 301,
      112 / 301,
      1 / 302,
      38 / 302,
    ];
    for (const x of d) expect(Number(x.toPrecision(16))).not.toBe(x);
    const exact = {
      meanAuc: d[0]!,
      meanRadsBelowCurve: 1.4,
      score: d[1]!,
      meanAucLo: d[2]!,
      meanAucHi: 0.54,
      tasks: [
        {
          task: "Edema",
          auc: d[3]!,
          aucLo: d[4]!,
          aucHi: 0.55,
          radsBelowCurve: 2,
          roc: [[0, 0] as [number, number], [d[5]!, d[6]!] as [number, number]],
          curves: { pr: [[d[7]!, 1]] },
        },
      ],
      parts: [
        {
          part: "public" as const,
          meanAuc: d[8]!,
          meanRadsBelowCurve: 1,
          score: d[9]!,
          meanAucLo: d[0]!,
          meanAucHi: null,
          tasks: [{ task: "Edema", auc: d[1]!, aucLo: null, aucHi: null, radsBelowCurve: 1 }],
        },
      ],
    };
    const id = await newSubmission();
    await markQueued(db, id);
    const lease = await start(id, "w1");
    await markScoring(db, lease, { digest: "sha256:abc", size: 5 });
    expect(await recordScore(db, lease, exact)).toBe(true);
    const s = await db.submission.findUniqueOrThrow({
      where: { id },
      include: { results: true, parts: true },
    });
    expect([s.meanAuc, s.score, s.meanAucLo]).toEqual([exact.meanAuc, exact.score, exact.meanAucLo]);
    const [t] = s.results;
    expect([t!.auc, t!.aucLo, t!.roc, t!.curves]).toEqual([
      exact.tasks[0]!.auc,
      exact.tasks[0]!.aucLo,
      exact.tasks[0]!.roc,
      exact.tasks[0]!.curves,
    ]);
    const [p] = s.parts;
    expect([p!.meanAuc, p!.score, p!.meanAucLo, p!.tasks]).toEqual([
      exact.parts[0]!.meanAuc,
      exact.parts[0]!.score,
      exact.parts[0]!.meanAucLo,
      exact.parts[0]!.tasks,
    ]);
  });

  it("refuses transitions out of a final state", async () => {
    const id = await newSubmission();
    await markQueued(db, id);
    expect(await markFailed(db, id, "nonzero_exit", "exit 1")).toBe(true);
    expect(await startRun(db, id, { worker: "w1", leaseMs: LEASE_MS })).toMatchObject({
      lease: null,
      refused: { state: "failed", heldBy: null },
    });
    expect(await markFailed(db, id, "infrastructure", "again")).toBe(false);
    const row = await db.submission.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ state: "failed", failureCategory: "nonzero_exit", failureMessage: "exit 1" });
  });

  it("a failure in the smoke run is refunded and says the hidden run was not spent; a hidden-run failure is charged", async () => {
    const smoke = await newSubmission();
    await markQueued(db, smoke);
    const lease = await start(smoke, "w1");
    expect(await markFailed(db, smoke, "timeout", "too slow", "w1", { phase: "smoke", holder: lease })).toBe(
      true,
    );
    expect(await db.submission.findUniqueOrThrow({ where: { id: smoke } })).toMatchObject({
      failedPhase: "smoke",
      refunded: true,
    });
    expect((await listSubmissionEvents(db, smoke)).at(-1)?.detail).toMatch(/hidden run was not spent/);
    const hidden = await newSubmission();
    await markQueued(db, hidden);
    await start(hidden, "w1");
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
    expect((await startRun(db, queued, { worker: "w1", leaseMs: LEASE_MS })).lease).toBeNull();

    const running = await newSubmission();
    await markQueued(db, running);
    const worker = workerIdentity(unique("w"));
    const lease = await start(running, worker.name);
    expect(await requestCancel(db, running)).toEqual({ outcome: "stopping", state: "running" });
    expect(await requestCancel(db, running)).toEqual({ outcome: "stopping", state: "running" });
    // The worker learns it at its heartbeat; a restarted run would not begin.
    expect(await recordHeartbeat(db, worker, [lease], LEASE_MS)).toEqual({ cancelled: [running], lost: [] });
    expect(await returnToQueue(db, running, { detail: "handed back", holder: lease })).toBe(true);
    expect(await startRun(db, running, { worker: "w2", leaseMs: LEASE_MS })).toMatchObject({
      lease: null,
      refused: { state: "queued", cancelRequested: true },
    });
    expect(await requestCancel(db, randomUUID())).toBeNull();
    const final = await newSubmission();
    await markFailed(db, final, "nonzero_exit", "exit 1");
    expect(await requestCancel(db, final)).toEqual({ outcome: "final", state: "failed" });
    await db.workerHeartbeat.delete({ where: { name: worker.name } });
  });

  it("a live lease keeps a second run from starting; once it lapses the next run takes over and the first can write nothing", async () => {
    const id = await newSubmission();
    await markQueued(db, id);
    const first = workerIdentity(unique("first"));
    const second = workerIdentity(unique("second"));
    const old = await start(id, first.name);
    // A job delivered again while the first run goes on: refused, naming the holder and the lease's end.
    const refused = await startRun(db, id, { worker: second.name, leaseMs: LEASE_MS });
    expect(refused).toMatchObject({
      lease: null,
      refused: { state: "running", heldBy: { worker: first.name } },
    });
    const until = refused.lease === null ? refused.refused?.heldBy?.until : undefined;
    expect(until!.getTime()).toBeGreaterThan(Date.now() + LEASE_MS / 2);
    // The first run's heartbeat renews its lease; nobody else may hand the row back meanwhile.
    expect(await recordHeartbeat(db, first, [old], LEASE_MS)).toEqual({ cancelled: [], lost: [] });
    expect(await returnToQueue(db, id, { detail: "reconciler", holder: "unheld" })).toBe(false);

    // The first worker stops beating (starved, cut off): its lease lapses, and the job's next
    // delivery takes the run over.
    await db.submission.update({ where: { id }, data: { leaseExpiresAt: new Date(Date.now() - 1000) } });
    const lease = await start(id, second.name);
    expect(await noteRunning(db, old, "smoke run started")).toBe(false);
    expect(await saveSubmissionLog(db, old, "stale log", false, "smoke")).toBe(false);
    expect(await markScoring(db, old, { digest: "sha256:old", size: 1 })).toBe(false);
    expect(await markFailed(db, id, "nonzero_exit", "exit 1", first.name, { holder: old })).toBe(false);
    expect(await returnToQueue(db, id, { detail: "handed back", holder: old })).toBe(false);
    expect(await releaseRun(db, old)).toBe(false);
    // Its worker learns at its next beat that the run is no longer its own.
    expect(await recordHeartbeat(db, first, [old], LEASE_MS)).toEqual({ cancelled: [], lost: [old] });

    expect(await markScoring(db, lease, { digest: "sha256:new", size: 2 })).toBe(true);
    expect(await recordScore(db, old, score)).toBe(false);
    expect(await recordScore(db, lease, score)).toBe(true);
    const row = await db.submission.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({
      state: "scored",
      attempts: 2,
      imageDigest: "sha256:new",
      worker: second.name,
    });
    expect(await db.submissionLog.count({ where: { submissionId: id } })).toBe(0);
    const events = await listSubmissionEvents(db, id);
    expect(events.map((e) => [e.state, e.worker, e.detail])).toEqual([
      ["received", null, expect.any(String)],
      ["queued", null, "waiting for a worker"],
      ["running", first.name, "evaluation started"],
      ["running", second.name, "evaluation started"],
      ["scoring", second.name, "model finished; scoring its predictions"],
      ["scored", second.name, SCORED_DETAIL],
    ]);
    await db.workerHeartbeat.deleteMany({ where: { name: { in: [first.name, second.name] } } });
  });

  it("a run that gives its lease up (to be retried) can be started again at once; a lapsed lease is judged by the database's clock", async () => {
    const id = await newSubmission();
    await markQueued(db, id);
    const failed = await start(id, "w1");
    expect(await releaseRun(db, failed)).toBe(true);
    const retry = await start(id, "w1");
    expect(await noteRunning(db, failed, "late write of the failed attempt")).toBe(false);
    expect(await noteRunning(db, retry, "smoke run started")).toBe(true);
    // A lease of a millisecond has lapsed by the next statement: a worker that died takes nobody's time.
    expect(await releaseRun(db, retry)).toBe(true);
    await start(id, "w2", 1);
    await new Promise((r) => setTimeout(r, 20));
    const taken = await start(id, "w3");
    expect((await db.submission.findUniqueOrThrow({ where: { id } })).attempts).toBe(4);
    expect(await returnToQueue(db, id, { detail: "handed back", holder: taken })).toBe(true);
    expect(await db.submission.findUniqueOrThrow({ where: { id } })).toMatchObject({
      state: "queued",
      leaseToken: null,
      worker: null,
    });
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
