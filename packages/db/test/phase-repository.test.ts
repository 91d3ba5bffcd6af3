import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeCompetition,
  CompetitionClosedError,
  CompetitionSlugTakenError,
  CompetitionSpecError,
  createCompetition,
  createDb,
  createSubmission,
  createTeamWithToken,
  deleteCompetition,
  ensureCompetition,
  findCompetitionBySlug,
  findSubmissionPhase,
  listAudit,
  listCompetitions,
  nextPhaseAfter,
  NoOpenPhaseError,
  oldestCountedSubmissionAt,
  openPhaseAt,
  PhaseSpecError,
  quotaStatus,
  reserveQuotaSlot,
  showCompetition,
  showCompetitionById,
  type Db,
  type NewCompetition,
  type PhaseSpec,
} from "../src/index.ts";
import {
  CLI,
  competitionSpec,
  DATABASE_URL,
  HOUR,
  hoursFromNow,
  newSubmission,
  phase,
  unique,
} from "./support.ts";

const spec = (phases: PhaseSpec[], extra: Partial<NewCompetition> = {}) =>
  competitionSpec(phases, {
    testsetDir: "/srv/holdout/pathology",
    devsetDir: "/srv/holdout/pathology-dev",
    scorer: "mean_auc",
    ...extra,
  });

describe("competitions and their phases (real PostgreSQL)", () => {
  let db: Db;
  const created: string[] = [];
  beforeAll(() => {
    db = createDb(DATABASE_URL, { poolSize: 2 });
  });
  afterAll(async () => {
    for (const id of created) await deleteCompetition(db, id);
    await db?.$disconnect();
  });

  async function create(s: NewCompetition) {
    const c = await createCompetition(db, CLI, s);
    created.push(c.id);
    return c;
  }

  /** Development (full feedback) ended an hour ago, a gap, the test phase opens in an hour, then the final. */
  const threePhases = () => [
    phase({
      name: "Development",
      startsAt: hoursFromNow(-48),
      endsAt: hoursFromNow(-1),
      data: "development",
      feedback: "full",
      quotaPerDay: 10,
      ranked: false,
    }),
    phase({
      name: "Test",
      startsAt: hoursFromNow(1),
      endsAt: hoursFromNow(48),
      quotaPerDay: 1,
      quotaTotal: 2,
    }),
    phase({ name: "Final", startsAt: hoursFromNow(48), endsAt: null, data: "hidden_public" }),
  ];

  async function upload(competitionId: string, teamId: string, more: { phaseId?: string } = {}) {
    const id = randomUUID();
    await createSubmission(db, newSubmission({ id, competitionId, teamId, ...more }));
    return id;
  }

  it("creates a competition with its phases in order, its own sets and scorer, and an audit row", async () => {
    const c = await create(spec(threePhases()));
    expect(c).toMatchObject({ scorer: "mean_auc", testsetDir: "/srv/holdout/pathology", state: "open" });
    expect(c.phases.map((p) => [p.ordinal, p.name, p.data, p.feedback, p.ranked, p.quotaPerDay])).toEqual([
      [1, "Development", "development", "full", false, 10],
      [2, "Test", "hidden", "released", true, 1],
      [3, "Final", "hidden_public", "released", true, null],
    ]);
    const [audit] = await listAudit(db, c.id, { limit: 5 });
    expect(audit).toMatchObject({ action: "competition.create", actor: CLI.actor, targetId: c.id });
    await expect(createCompetition(db, CLI, spec(threePhases(), { slug: c.slug }))).rejects.toBeInstanceOf(
      CompetitionSlugTakenError,
    );
  });

  it("refuses phases that cannot be, naming the phase and the problem, and writes nothing", async () => {
    const start = hoursFromNow(1);
    const cases: [PhaseSpec[], Partial<NewCompetition>, RegExp][] = [
      [[], {}, /^phases: a competition needs at least one phase$/],
      [
        [phase({ name: "Test", startsAt: start, endsAt: new Date(start.getTime() - 1) })],
        {},
        /^phase 1 "Test": ends \(.*\) before it starts/,
      ],
      [
        [
          phase({ name: "Dev", startsAt: start, endsAt: hoursFromNow(10) }),
          phase({ name: "Test", startsAt: hoursFromNow(5), endsAt: null }),
        ],
        {},
        /^phase 2 "Test": starts \(.*\) before phase 1 "Dev" ends \(.*\): phases are in order and do not overlap$/,
      ],
      [
        [
          phase({ name: "Open-ended", startsAt: start, endsAt: null }),
          phase({ name: "Test", startsAt: hoursFromNow(5), endsAt: null }),
        ],
        {},
        /^phase 1 "Open-ended": has no end, but only the last phase/,
      ],
      [
        [phase({ name: "Leaky", startsAt: start, endsAt: null, feedback: "full" })],
        {},
        /^phase 1 "Leaky": gives full feedback on the hidden set/,
      ],
      [
        [phase({ name: "Dev", startsAt: start, endsAt: null, data: "development" })],
        { devsetDir: null, devsetSha256: null },
        /^phase 1 "Dev": runs on the development set, but the competition has none$/,
      ],
      [
        [phase({ name: "Test", startsAt: start, endsAt: null, quotaPerDay: -1 })],
        {},
        /^phase 1 "Test": quota per day must be a whole number/,
      ],
      [[phase({ name: "  ", startsAt: start, endsAt: null })], {}, /^phase 1: has no name$/],
    ];
    for (const [phases, extra, message] of cases) {
      const s = spec(phases, extra);
      const refused = createCompetition(db, CLI, s);
      await expect(refused).rejects.toBeInstanceOf(PhaseSpecError);
      await expect(refused).rejects.toThrow(message);
      expect(await findCompetitionBySlug(db, s.slug)).toBeNull();
    }
    const badSlug = spec(threePhases(), { slug: "Not A Slug" });
    await expect(createCompetition(db, CLI, badSlug)).rejects.toBeInstanceOf(CompetitionSpecError);
    await expect(createCompetition(db, CLI, spec(threePhases(), { testsetSha256: "x" }))).rejects.toThrow(
      /^testsetSha256: must be a SHA-256/,
    );
  });

  it("finds the phase open at a moment, and the next one; a boundary belongs to the phase that starts there", async () => {
    const t0 = new Date("2031-01-01T00:00:00.000Z");
    const at = (h: number) => new Date(t0.getTime() + h * HOUR);
    const c = await create(
      spec([
        phase({ name: "One", startsAt: at(0), endsAt: at(10) }),
        phase({ name: "Two", startsAt: at(10), endsAt: at(20) }),
        phase({ name: "Three", startsAt: at(30), endsAt: null }),
      ]),
    );
    const open = async (h: number) => (await openPhaseAt(db, c.id, at(h)))?.name ?? null;
    const next = async (h: number) => (await nextPhaseAfter(db, c.id, at(h)))?.name ?? null;
    expect([await open(-1), await next(-1)]).toEqual([null, "One"]);
    expect([await open(0), await next(0)]).toEqual(["One", "Two"]);
    expect([await open(10), await next(10)]).toEqual(["Two", "Three"]);
    expect([await open(25), await next(25)]).toEqual([null, "Three"]);
    expect([await open(1000), await next(1000)]).toEqual(["Three", null]);
  });

  it("lists competitions with where each stands and shows one by its slug with every phase", async () => {
    const open = await create(spec([phase({ name: "Test", startsAt: hoursFromNow(-1), endsAt: null })]));
    const between = await create(spec(threePhases()));
    const upcoming = await create(spec([phase({ name: "Later", startsAt: hoursFromNow(5), endsAt: null })]));
    const ended = await create(
      spec([phase({ name: "Past", startsAt: hoursFromNow(-5), endsAt: hoursFromNow(-2) })]),
    );
    const listed = new Map((await listCompetitions(db)).map((c) => [c.id, c]));
    const view = (id: string) => {
      const c = listed.get(id)!;
      return [c.status, c.currentPhase?.name ?? null, c.nextPhase?.name ?? null];
    };
    expect(view(open.id)).toEqual(["open", "Test", null]);
    expect(view(between.id)).toEqual(["between", null, "Test"]);
    expect(view(upcoming.id)).toEqual(["upcoming", null, "Later"]);
    expect(view(ended.id)).toEqual(["ended", null, null]);
    const shown = await showCompetition(db, between.slug);
    expect(shown).toMatchObject({
      id: between.id,
      status: "between",
      devsetDir: "/srv/holdout/pathology-dev",
    });
    expect(shown?.phases.map((p) => p.name)).toEqual(["Development", "Test", "Final"]);
    expect(await showCompetition(db, unique("none"))).toBeNull();
    expect(await showCompetitionById(db, between.id)).toMatchObject({
      slug: between.slug,
      status: "between",
    });
  });

  it("refuses an upload between phases, saying when the next one opens; takes it in the open phase", async () => {
    const c = await create(spec(threePhases()));
    const team = (await createTeamWithToken(db, { competitionId: c.id, name: unique("team") })).team;
    const refused = upload(c.id, team.id);
    await expect(refused).rejects.toBeInstanceOf(NoOpenPhaseError);
    await expect(refused).rejects.toThrow(/the next one, "Test", opens at \d{4}-\d\d-\d\dT/);
    const slot = reserveQuotaSlot(db, { teamId: team.id, reservationId: randomUUID(), ttlMs: HOUR });
    await expect(slot).rejects.toBeInstanceOf(NoOpenPhaseError);
    expect(await db.submission.count({ where: { teamId: team.id } })).toBe(0);

    // The test phase opens (its start moved to now): the same upload is taken, into it.
    const test = c.phases[1]!;
    await db.phase.update({ where: { id: test.id }, data: { startsAt: hoursFromNow(-0.5) } });
    const id = await upload(c.id, team.id);
    expect((await db.submission.findUniqueOrThrow({ where: { id } })).phaseId).toBe(test.id);
    expect(await findSubmissionPhase(db, id)).toMatchObject({
      name: "Test",
      data: "hidden",
      feedback: "released",
    });
  });

  it("counts each phase's quota over its own submissions; a slot's upload joins the phase it was taken in", async () => {
    const phases = threePhases();
    phases[1]!.startsAt = hoursFromNow(-0.5);
    const c = await create(spec(phases));
    const [dev, test] = c.phases;
    const team = (await createTeamWithToken(db, { competitionId: c.id, name: unique("team") })).team;
    // Three uploads of the development phase (recorded in it, as an import would) count there only.
    for (let i = 0; i < 3; i++) await upload(c.id, team.id, { phaseId: dev!.id });
    expect(await quotaStatus(db, team.id)).toMatchObject({
      phaseId: test!.id,
      perDay: 1,
      total: 2,
      usedInWindow: 0,
      remaining: 1,
    });
    expect(await quotaStatus(db, team.id, new Date(), dev!.id)).toMatchObject({ perDay: 10, usedTotal: 3 });
    expect(await oldestCountedSubmissionAt(db, team.id)).toBeNull();

    const reservationId = randomUUID();
    const slot = await reserveQuotaSlot(db, { teamId: team.id, reservationId, ttlMs: HOUR });
    expect(slot).toMatchObject({ ok: true, status: { phaseId: test!.id, remaining: 0 } });
    expect(
      (await reserveQuotaSlot(db, { teamId: team.id, reservationId: randomUUID(), ttlMs: HOUR })).ok,
    ).toBe(false);
    // The test phase ends while the file streams in: the upload still joins it.
    await db.phase.update({ where: { id: test!.id }, data: { endsAt: new Date(Date.now() - 1) } });
    await createSubmission(
      db,
      newSubmission({ id: reservationId, competitionId: c.id, teamId: team.id, modelName: "late" }),
      reservationId,
    );
    const row = await db.submission.findUniqueOrThrow({ where: { id: reservationId } });
    expect(row.phaseId).toBe(test!.id);
    expect(await quotaStatus(db, team.id, new Date(), test!.id)).toMatchObject({
      usedTotal: 1,
      usedInWindow: 1,
    });
    expect(await oldestCountedSubmissionAt(db, team.id, new Date(), test!.id)).toEqual(row.createdAt);
  });

  it("closing early ends the open phase then; no phase opens afterwards", async () => {
    const c = await create(
      spec([
        phase({ name: "Test", startsAt: hoursFromNow(-2), endsAt: hoursFromNow(2) }),
        phase({ name: "Final", startsAt: hoursFromNow(2), endsAt: null }),
      ]),
    );
    const team = (await createTeamWithToken(db, { competitionId: c.id, name: unique("team") })).team;
    const { closedAt } = await closeCompetition(db, { competitionId: c.id, actor: CLI.actor });
    const [test, final] = await db.phase.findMany({
      where: { competitionId: c.id },
      orderBy: { ordinal: "asc" },
    });
    expect(test!.endsAt).toEqual(closedAt);
    expect(final!.endsAt).toBeNull();
    expect(await openPhaseAt(db, c.id, hoursFromNow(3))).toBeNull();
    expect(await nextPhaseAfter(db, c.id, new Date())).toBeNull();
    expect((await showCompetition(db, c.slug))?.status).toBe("closed");
    await expect(upload(c.id, team.id)).rejects.toBeInstanceOf(CompetitionClosedError);
    const slot = reserveQuotaSlot(db, { teamId: team.id, reservationId: randomUUID(), ttlMs: HOUR });
    await expect(slot).rejects.toBeInstanceOf(CompetitionClosedError);
  });

  it("ensureCompetition gives a new competition one open hidden-set phase; deleting it removes its phases and submissions", async () => {
    const c = await ensureCompetition(db, { slug: unique("default"), name: "Default" });
    const team = (await createTeamWithToken(db, { competitionId: c.id, name: unique("team") })).team;
    const id = await upload(c.id, team.id);
    const phases = await db.phase.findMany({ where: { competitionId: c.id } });
    expect(phases).toEqual([
      expect.objectContaining({
        ordinal: 1,
        name: "Hidden test set",
        data: "hidden",
        feedback: "released",
        ranked: true,
        startsAt: c.createdAt,
        endsAt: null,
        quotaPerDay: null,
      }),
    ]);
    expect((await db.submission.findUniqueOrThrow({ where: { id } })).phaseId).toBe(phases[0]!.id);
    await deleteCompetition(db, c.id);
    expect(await db.phase.count({ where: { competitionId: c.id } })).toBe(0);
    expect(await db.submission.count({ where: { id } })).toBe(0);
  });
});
