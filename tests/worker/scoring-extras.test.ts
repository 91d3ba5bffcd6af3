import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  leaderTiesJobOptions,
  QUEUE_LEADER_TIES,
  QUEUE_RESCORE,
  rescoreJobOptions,
} from "@holdout/contracts";
import { listSubmissionEvents } from "@holdout/db";
import { parsePredictionsCsv, TASKS, type PerTask } from "@holdout/scorer";
import { decideTies, loadHiddenTestset, scoreRecord, type HiddenTestset } from "@holdout/worker";
import { BASELINE_TARBALL, TEST_REDIS_URL, TEST_TESTSET_DIR } from "../support/env.ts";
import { blurred, scoreSeeded, uniform, until } from "../support/predictions.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const BOOTSTRAP = { replicates: 2000, seed: 20_190_101 };

// What the result pages show besides the official score: 95% bootstrap intervals, curves, stored
// predictions, and which listed entries are statistically tied with the leader; and re-scoring.
describe("scoring extras", () => {
  let stack: Stack;
  let testset: HiddenTestset;
  let redis: Redis;
  let tiesQueue: Queue;
  let rescoreQueue: Queue;

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    testset = await loadHiddenTestset(TEST_TESTSET_DIR);
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    tiesQueue = new Queue(QUEUE_LEADER_TIES, { connection: redis, prefix: stack.prefix });
    rescoreQueue = new Queue(QUEUE_RESCORE, { connection: redis, prefix: stack.prefix });
  });
  afterAll(async () => {
    await tiesQueue?.close();
    await rescoreQueue?.close();
    await redis?.quit();
    await stack?.close();
  });

  /** A scored entry as the worker would have stored it (seeded: no model run needed). */
  async function seedScored(predictions: PerTask<Float64Array>) {
    const { id: teamId } = await stack.createTeam();
    return scoreSeeded(stack, testset, teamId, predictions, BOOTSTRAP);
  }

  const marks = async (ids: string[]) => {
    const rows = await stack.db.submission.findMany({ where: { id: { in: ids } } });
    return ids.map((id) => rows.find((r) => r.id === id)?.tiedWithLeader ?? null);
  };

  it(
    "a scored run stores its predictions, per-task and mean AUC intervals, and curves",
    { timeout: 300_000 },
    async () => {
      const { token } = await stack.createTeam();
      const { body } = await uploadImage(stack.url, token, BASELINE_TARBALL, { model: "Baseline" });
      expect((await waitForFinal(stack.url, token, body.id)).state).toBe("scored");
      const s = await stack.db.submission.findUniqueOrThrow({
        where: { id: body.id },
        include: { results: true, predictions: true },
      });
      expect(s.meanAucLo).toBeLessThanOrEqual(s.meanAuc ?? NaN);
      expect(s.meanAucHi).toBeGreaterThanOrEqual(s.meanAuc ?? NaN);
      expect((s.meanAucHi ?? 0) - (s.meanAucLo ?? 0)).toBeGreaterThan(0);
      expect(s.results).toHaveLength(5);
      for (const r of s.results) {
        expect(r.aucLo).toBeLessThanOrEqual(r.auc);
        expect(r.aucHi).toBeGreaterThanOrEqual(r.auc);
        const curves = r.curves as {
          pr: [number, number][];
          readerPoints: { id: string }[];
          majority: unknown;
        };
        expect(curves.pr.length).toBeGreaterThan(2);
        expect(curves.readerPoints).toHaveLength(testset.readers.length);
        expect(curves.majority).not.toBeNull();
      }
      // The stored predictions are what was scored: one canonical row per test study.
      const stored = parsePredictionsCsv(s.predictions?.csv ?? "", testset.studies);
      expect(stored.Edema).toHaveLength(testset.studies.length);
      // The API shows the stored intervals to the owner, and to anyone once the entry is listed, at the
      // released precision (3 decimals).
      const r3 = (x: number | null) => (x === null ? null : Number(x.toFixed(3)));
      const interval = (lo: number | null, hi: number | null) => [r3(lo), r3(hi)];
      const expected = {
        meanAuc95: interval(s.meanAucLo, s.meanAucHi),
        tasks: expect.arrayContaining(
          s.results.map(
            (r): unknown =>
              expect.objectContaining({ task: r.task, auc95: interval(r.aucLo, r.aucHi) }) as unknown,
          ),
        ) as unknown,
      };
      const url = `${stack.url}/api/v1/submissions/${body.id}`;
      const owner = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(await owner.json()).toMatchObject(expected);
      const anyone = await fetch(url);
      expect(anyone.status).toBe(200);
      expect(await anyone.json()).toMatchObject(expected);
      // The only listed entry leads, so it is tied with itself (marked just after the score is stored).
      expect(await until("its tie mark", async () => (await marks([body.id]))[0] ?? undefined)).toBe(true);
    },
  );

  it(
    "tie marks: the leader and an entry not significantly worse are tied, a worse one is not",
    { timeout: 300_000 },
    async () => {
      const strong = blurred(testset, 1.5, 1);
      const twin = Object.fromEntries(
        TASKS.map((t) => [t, strong[t].map((v, i) => v + 0.001 * uniform(2 + i)())]),
      ) as PerTask<Float64Array>;
      const weak = blurred(testset, 3, 3);
      const [a, b, c] = [await seedScored(strong), await seedScored(twin), await seedScored(weak)];
      await stack.db.submission.updateMany({
        where: { competitionId: stack.competition.id, id: { notIn: [a, b, c] } },
        data: { hidden: true },
      });
      await tiesQueue.add(
        QUEUE_LEADER_TIES,
        { competitionId: stack.competition.id },
        leaderTiesJobOptions(stack.competition.id),
      );
      expect(
        await until("tie marks", async () =>
          (await marks([a, b, c])).includes(null) ? undefined : marks([a, b, c]),
        ),
      ).toEqual([true, true, false]);

      // Hidden from the leaderboard through the API (here by an organizer): the marks are refreshed
      // by themselves; no mark on it, the others keep theirs.
      const organizer = await stack.createOrganizer();
      const hide = await fetch(`${stack.url}/api/v1/submissions/${b}/hide`, {
        method: "POST",
        headers: { authorization: `Bearer ${organizer.token}` },
      });
      expect(hide.status).toBe(200);
      expect(
        await until("b's mark to go", async () =>
          (await marks([b]))[0] === null ? marks([a, b, c]) : undefined,
        ),
      ).toEqual([true, null, false]);

      // Contiguous from the top: an entry as good as the leader but ranked below a worse one is not tied.
      const candidates = [strong, weak, strong].map((p, i) => ({
        id: `e${i}`,
        score: 1 - i,
        meanAuc: 0.9,
        predictionsCsv: scoreRecord(testset, p, BOOTSTRAP).predictionsCsv ?? null,
      }));
      expect([...decideTies(testset, candidates, BOOTSTRAP).values()]).toEqual([true, false, false]);
    },
  );

  it(
    "re-scoring rewrites the results from the stored predictions, with an event naming who asked",
    { timeout: 300_000 },
    async () => {
      const id = await seedScored(blurred(testset, 1.5, 4));
      const before = await stack.db.submission.findUniqueOrThrow({
        where: { id },
        include: { results: true },
      });
      // As if the results had been computed against labels since corrected.
      await stack.db.submission.update({
        where: { id },
        data: { meanAuc: 0.1, meanAucLo: null, meanAucHi: null },
      });
      await stack.db.taskResult.updateMany({
        where: { submissionId: id },
        data: { auc: 0.1, curves: undefined },
      });
      await rescoreQueue.add(
        QUEUE_RESCORE,
        { submissionId: id, requestedBy: "organizer@example.org" },
        rescoreJobOptions(id),
      );
      const event = await until("the re-score event", async () =>
        (await listSubmissionEvents(stack.db, id)).find((e) =>
          e.detail?.startsWith("re-scored by organizer@example.org"),
        ),
      );
      expect(event.state).toBe("scored");
      const after = await stack.db.submission.findUniqueOrThrow({
        where: { id },
        include: { results: true },
      });
      expect(after.meanAuc).toBe(before.meanAuc);
      expect([after.meanAucLo, after.meanAucHi]).toEqual([before.meanAucLo, before.meanAucHi]);
      expect(after.results.map((r) => [r.task, r.auc, r.aucLo, r.aucHi]).sort()).toEqual(
        before.results.map((r) => [r.task, r.auc, r.aucLo, r.aucHi]).sort(),
      );
      expect(after.results.every((r) => r.curves !== null)).toBe(true);
      // Replaced, not overwritten silently: the history keeps the figures before and after.
      const [revision, ...more] = await stack.db.scoreRevision.findMany({ where: { submissionId: id } });
      expect(more).toEqual([]);
      expect(revision).toMatchObject({
        actor: "organizer@example.org",
        previous: { meanAuc: 0.1, meanAucLo: null },
        next: { meanAuc: before.meanAuc, meanAucLo: before.meanAucLo },
      });
    },
  );
});
