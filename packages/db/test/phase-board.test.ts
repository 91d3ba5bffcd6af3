import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeEndedCompetitions,
  createCompetition,
  createDb,
  createSubmission,
  createTeamWithToken,
  deleteCompetition,
  listAudit,
  listBoardEntries,
  listedWhere,
  SCHEDULE_ACTOR,
  showCompetition,
  type Db,
  type NewCompetition,
} from "../src/index.ts";
import { CLI, competitionSpec, DATABASE_URL, hoursFromNow, newSubmission, unique } from "./support.ts";

const spec = (phases: NewCompetition["phases"]) =>
  competitionSpec(phases, { name: "Boards", testsetSha256: "e".repeat(64), devsetSha256: "f".repeat(64) });

describe("boards per phase, and closing by the schedule (real PostgreSQL)", () => {
  let db: Db;
  const created: string[] = [];
  beforeAll(() => {
    db = createDb(DATABASE_URL, { poolSize: 2 });
  });
  afterAll(async () => {
    for (const id of created) await deleteCompetition(db, id);
    await db?.$disconnect();
  });

  /**
   * A competition of a development phase (ranked as `devRanked` says) and a hidden-set phase, one
   * team, and `boardOf` (the model names a board lists) and `scored` (a scored entry in a phase).
   */
  async function twoPhases(devRanked: boolean) {
    const c = await createCompetition(
      db,
      CLI,
      spec([
        {
          name: "Development",
          startsAt: hoursFromNow(-48),
          endsAt: hoursFromNow(-1),
          data: "development",
          feedback: "full",
          ranked: devRanked,
        },
        {
          name: "Test",
          startsAt: hoursFromNow(-1),
          endsAt: null,
          data: "hidden",
          feedback: "released",
          ranked: true,
        },
      ]),
    );
    created.push(c.id);
    const [dev, test] = c.phases;
    const team = (await createTeamWithToken(db, { competitionId: c.id, name: unique("team") })).team;
    const scored = async (phaseId: string, modelName: string, meanAuc: number) => {
      const id = randomUUID();
      await createSubmission(
        db,
        newSubmission({ id, competitionId: c.id, teamId: team.id, phaseId, modelName }),
      );
      await db.submission.update({
        where: { id },
        data: { state: "scored", meanAuc, meanRadsBelowCurve: 1, score: meanAuc + 0.001 },
      });
    };
    const boardOf = async (phaseId?: string) =>
      (await listBoardEntries(db, { id: c.id, aucFloor: 0.7, phaseId })).map((e) => e.modelName);
    return { id: c.id, dev: dev!.id, test: test!.id, scored, boardOf };
  }

  it("a phase's board lists that phase's entries only; the competition's lists them all", async () => {
    const c = await twoPhases(true);
    await c.scored(c.dev, "dev model", 0.8);
    await c.scored(c.test, "test model", 0.9);
    await c.scored(c.test, "second test model", 0.85);
    expect(await c.boardOf(c.dev)).toEqual(["dev model"]);
    expect(await c.boardOf(c.test)).toEqual(["test model", "second test model"]);
    expect(await c.boardOf()).toEqual(["test model", "second test model", "dev model"]);
    expect(await db.submission.count({ where: listedWhere(c.id, 0.7, c.test) })).toBe(2);
  });

  it("an unranked phase's entries make no board: the competition's lists the ranked phases' only", async () => {
    const c = await twoPhases(false);
    await c.scored(c.dev, "dev model", 0.95);
    await c.scored(c.test, "test model", 0.9);
    expect(await c.boardOf()).toEqual(["test model"]);
    expect(await c.boardOf(c.dev)).toEqual([]);
    expect(await db.submission.count({ where: listedWhere(c.id, 0.7) })).toBe(1);
  });

  it("closes a competition whose last phase ended, as of that end, once", async () => {
    // In the past, so that no other test's competition has ended by then.
    const end = new Date("2020-01-03T00:00:00.000Z");
    const ended = await createCompetition(
      db,
      CLI,
      spec([
        {
          name: "Test",
          startsAt: new Date("2020-01-01T00:00:00.000Z"),
          endsAt: end,
          data: "hidden",
          feedback: "released",
          ranked: true,
        },
      ]),
    );
    const running = await createCompetition(
      db,
      CLI,
      spec([
        {
          name: "Test",
          startsAt: new Date("2020-01-01T00:00:00.000Z"),
          endsAt: null,
          data: "hidden",
          feedback: "released",
          ranked: true,
        },
      ]),
    );
    created.push(ended.id, running.id);
    const at = new Date("2020-06-01T00:00:00.000Z");
    const closed = await closeEndedCompetitions(db, at);
    expect(closed).toEqual([{ competitionId: ended.id, slug: ended.slug, closedAt: end, split: false }]);
    expect(await showCompetition(db, ended.slug, at)).toMatchObject({
      state: "closed",
      status: "closed",
      closedAt: end,
      closedBy: SCHEDULE_ACTOR,
    });
    expect((await showCompetition(db, running.slug, at))?.status).toBe("open");
    const [audit] = await listAudit(db, ended.id, { limit: 1 });
    expect(audit).toMatchObject({ action: "competition.close", actor: SCHEDULE_ACTOR });
    expect(await closeEndedCompetitions(db, at)).toEqual([]);
  });
});
