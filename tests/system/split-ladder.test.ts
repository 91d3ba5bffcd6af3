import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leaderTiesJobOptions, QUEUE_LEADER_TIES } from "@holdout/contracts";
import { getCompetitionPolicy, listSubmissionEvents } from "@holdout/db";
import { TASKS, type PerTask } from "@holdout/scorer";
import { loadHiddenTestset, splitOf, splitStudies, type HiddenTestset } from "@holdout/worker";
import { TEST_REDIS_URL, TEST_TESTSET_DIR } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { blurred, scoreSeeded, until } from "../support/predictions.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// The two limits on what adaptive submissions learn beyond rounding: a public/private split (the
// board ranks on a secret part while open; closing ranks each team's finals on the rest), and the
// ladder (a new score is released only when it significantly beats the team's best).

const BOOTSTRAP = { replicates: 2000, seed: 20_190_101 };

type Predictions = PerTask<Float64Array>;

const round3 = (x: number) => Number(x.toFixed(3));

interface Api {
  (path: string, init?: { method?: string; token?: string; body?: unknown }): Promise<Response>;
}

function apiOf(stack: Stack, defaultToken: () => string): Api {
  return (path, init = {}) =>
    fetch(`${stack.url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        ...(init.token === "" ? {} : { authorization: `Bearer ${init.token ?? defaultToken()}` }),
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
}

interface BoardEntry {
  submissionId: string;
  rank: number;
  meanAuc: number;
  tiedWithLeader: boolean | null;
}
interface Board {
  board: string;
  entries: BoardEntry[];
  publicEntries?: BoardEntry[];
}

describe("public/private split", () => {
  let stack: Stack;
  let testset: HiddenTestset;
  let redis: Redis;
  let tiesQueue: Queue;
  let organizer: { token: string; email: string };
  const teams: Record<"a" | "b" | "c", { id: string; token: string }> = {} as never;
  const ids: Record<string, string> = {};
  let api: Api;
  const seed = (t: HiddenTestset, teamId: string, p: Predictions) =>
    scoreSeeded(stack, t, teamId, p, BOOTSTRAP);

  beforeAll(async () => {
    // Floor 0: an entry that knows nothing of the private part is still ranked on it.
    stack = await startStack({ worker: true, aucFloor: 0 });
    testset = await loadHiddenTestset(TEST_TESTSET_DIR);
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    tiesQueue = new Queue(QUEUE_LEADER_TIES, { connection: redis, prefix: stack.prefix });
    organizer = await stack.createOrganizer();
    for (const k of ["a", "b", "c"] as const) teams[k] = await stack.createTeam();
    api = apiOf(stack, () => organizer.token);
  });
  afterAll(async () => {
    await tiesQueue?.close();
    await redis?.quit();
    await stack?.close();
  });

  const board = async (query = "") =>
    (await (await api(`/api/v1/leaderboard${query}`, { token: "" })).json()) as Board;
  const partOf = async (id: string, part: "public" | "private") =>
    stack.db.submissionPartScore.findUniqueOrThrow({
      where: { submissionId_part: { submissionId: id, part } },
    });

  it("is set by an organizer before any score; teams never see its fraction or seed", async () => {
    const set = await api("/api/v1/admin/settings", { method: "PATCH", body: { publicFraction: 0.5 } });
    expect(set.status).toBe(200);
    const settings = (await set.json()) as { publicFraction: number; splitSeed: number };
    expect(settings.publicFraction).toBe(0.5);
    expect(Number.isInteger(settings.splitSeed)).toBe(true);
    expect((await api("/api/v1/admin/settings", { token: teams.a.token })).status).toBe(403);
    const text = JSON.stringify(await board());
    expect(text).not.toContain(String(settings.splitSeed));
    expect(text).not.toMatch(/fraction|seed/i);
  });

  it(
    "ranks on the public part while open; closing ranks the finals on the private part and shows both boards",
    { timeout: 300_000 },
    async () => {
      const policy = await getCompetitionPolicy(stack.db, stack.competition.id);
      const parts = splitStudies(testset.studies, splitOf(policy)!);
      expect(parts.public.length).toBe(testset.studies.length / 2);
      // B's entry is perfect on the public part and knows nothing of the private one: it leads
      // the public board and falls at closing.
      ids.a1 = await seed(testset, teams.a.id, blurred(testset, 1.3, 1));
      ids.a2 = await seed(testset, teams.a.id, blurred(testset, 2.0, 2));
      ids.a3 = await seed(testset, teams.a.id, blurred(testset, 3.0, 3));
      ids.b1 = await seed(testset, teams.b.id, blurred(testset, 0.5, 4, new Set(parts.public)));
      ids.c1 = await seed(testset, teams.c.id, blurred(testset, 1.6, 5));

      // Fixed from now on: a new split would rank these entries on other studies.
      const locked = await api("/api/v1/admin/settings", { method: "PATCH", body: { publicFraction: 0.3 } });
      expect(await locked.json()).toMatchObject({ status: 409, code: "HOLDOUT_ERR_SETTING_LOCKED" });

      // While open: the public part's board, at the released precision.
      const open = await board();
      expect(open.board).toBe("public");
      expect(open.publicEntries).toBeUndefined();
      expect(open.entries[0]!.submissionId).toBe(ids.b1);
      for (const e of open.entries)
        expect(e.meanAuc).toBe(round3((await partOf(e.submissionId, "public")).meanAuc));
      const mine = (await (await api(`/api/v1/submissions/${ids.a1}`, { token: teams.a.token })).json()) as {
        meanAuc: number;
        privatePart: unknown;
        organizer?: unknown;
      };
      expect(mine.meanAuc).toBe(round3((await partOf(ids.a1, "public")).meanAuc));
      expect(mine.privatePart).toBeNull();
      expect(mine).not.toHaveProperty("organizer");
      const seen = (await (await api(`/api/v1/submissions/${ids.a1}`)).json()) as {
        organizer: {
          full: { meanAuc: number };
          publicPart: { meanAuc: number };
          privatePart: { meanAuc: number };
        };
      };
      expect(seen.organizer.privatePart.meanAuc).toBe((await partOf(ids.a1, "private")).meanAuc);

      // Tie marks on the public board, by the worker, on the public part's resamples.
      await tiesQueue.add(
        QUEUE_LEADER_TIES,
        { competitionId: stack.competition.id },
        leaderTiesJobOptions(stack.competition.id),
      );
      await until("public tie marks", async () =>
        (await partOf(ids.b1!, "public")).tiedWithLeader === true ? true : undefined,
      );

      // Finals: at most two per team, only the team's own, withdrawn at will.
      const final = (id: string, token: string, method = "PUT") =>
        api(`/api/v1/submissions/${id}/final`, { method, token });
      expect(await (await final(ids.a2, teams.a.token)).json()).toEqual({ finals: [ids.a2] });
      expect(await (await final(ids.a3, teams.a.token)).json()).toEqual({ finals: [ids.a2, ids.a3] });
      expect(await (await final(ids.a1, teams.a.token)).json()).toMatchObject({
        status: 409,
        code: "HOLDOUT_ERR_FINAL_SELECTION",
      });
      expect((await final(ids.a1, teams.b.token)).status).toBe(404);
      expect(await (await final(ids.a3, teams.a.token, "DELETE")).json()).toEqual({ finals: [ids.a2] });
      expect(await (await final(ids.a1, teams.a.token)).json()).toEqual({ finals: [ids.a1, ids.a2] });

      const closed = await api("/api/v1/admin/competition/close", {
        method: "POST",
        body: { confirm: stack.competition.slug },
      });
      expect(closed.status).toBe(200);
      expect((await final(ids.a3, teams.a.token)).status).toBe(409);

      // The final board: each team's finals (B and C chose none: their best public entry), on the
      // private part; the public board beside it.
      const after = await board();
      expect(after.board).toBe("private");
      expect(after.entries.map((e) => e.submissionId).sort()).toEqual(
        [ids.a1, ids.a2, ids.b1, ids.c1].sort(),
      );
      expect(after.entries.at(-1)!.submissionId).toBe(ids.b1);
      for (const e of after.entries)
        expect(e.meanAuc).toBe(round3((await partOf(e.submissionId, "private")).meanAuc));
      expect(after.publicEntries!.map((e) => e.submissionId)).toEqual(
        open.entries.map((e) => e.submissionId),
      );
      // The private board's tie marks, computed once the competition closed.
      await until("private tie marks", async () =>
        (await partOf(after.entries[0]!.submissionId, "private")).tiedWithLeader === true ? true : undefined,
      );

      // CSV of either board; both boards on the page; each team reads its private part now.
      const csv = await (await fetch(`${stack.url}/leaderboard.csv`)).text();
      expect(csv.trim().split("\n")).toHaveLength(5);
      const publicCsv = await (await fetch(`${stack.url}/leaderboard.csv?board=public`)).text();
      expect(publicCsv.trim().split("\n")).toHaveLength(6);
      const page = await (await fetch(`${stack.url}/`, { headers: { accept: "text/html" } })).text();
      expect(page).toContain("<h2>Final ranking</h2>");
      expect(page).toContain("<h2>Public leaderboard</h2>");
      const now = (await (await api(`/api/v1/submissions/${ids.b1}`, { token: teams.b.token })).json()) as {
        final: boolean;
        privatePart: { meanAuc: number };
      };
      expect(now.final).toBe(true);
      expect(now.privatePart.meanAuc).toBe(round3((await partOf(ids.b1, "private")).meanAuc));
    },
  );
});

describe("ladder", () => {
  let stack: Stack;
  let testset: HiddenTestset;
  let organizer: { token: string };
  let api: Api;
  const seed = (t: HiddenTestset, teamId: string, p: Predictions) =>
    scoreSeeded(stack, t, teamId, p, BOOTSTRAP);

  beforeAll(async () => {
    stack = await startStack({ worker: true });
    testset = await loadHiddenTestset(TEST_TESTSET_DIR);
    organizer = await stack.createOrganizer();
    api = apiOf(stack, () => organizer.token);
    const on = await api("/api/v1/admin/settings", { method: "PATCH", body: { ladder: true } });
    expect(on.status).toBe(200);
  });
  afterAll(() => stack?.close());

  it("a submission better only by noise releases nothing; a real improvement is released", async () => {
    const team = await stack.createTeam();
    const base = blurred(testset, 1.5, 11);
    const first = await seed(testset, team.id, base);
    // Better by a hair: in one task, the lowest-scored positive moves just above one negative.
    const task = TASKS[0];
    const hair = Object.fromEntries(TASKS.map((t) => [t, Float64Array.from(base[t])])) as Predictions;
    const truth = testset.truth[task]!;
    let low = -1;
    for (let i = 0; i < truth.length; i++)
      if (truth[i] === 1 && (low < 0 || hair[task][i]! < hair[task][low]!)) low = i;
    let above = Infinity;
    for (let i = 0; i < truth.length; i++) {
      if (truth[i] === 0 && hair[task][i]! > hair[task][low]!) above = Math.min(above, hair[task][i]!);
    }
    hair[task][low] = above + 1e-9;
    const noise = await seed(testset, team.id, hair);
    const better = await seed(testset, team.id, blurred(testset, 0.5, 12));

    const rows = await stack.db.submission.findMany({ where: { id: { in: [first, noise, better] } } });
    const row = (id: string) => rows.find((r) => r.id === id)!;
    expect(row(noise).meanAuc!).toBeGreaterThan(row(first).meanAuc!);
    expect([row(first), row(noise), row(better)].map((r) => r.ladderImproved)).toEqual([true, false, true]);

    // The withheld one releases nothing: no score in any view, not listed, a plain note on the timeline.
    const view = (await (await api(`/api/v1/submissions/${noise}`, { token: team.token })).json()) as Record<
      string,
      unknown
    >;
    expect(view).toMatchObject({
      state: "scored",
      meanAuc: null,
      meanAuc95: null,
      meanRadsBelowCurve: null,
      tasks: [],
      ladder: { improved: false },
    });
    expect((await fetch(`${stack.url}/api/v1/submissions/${noise}`)).status).toBe(404);
    const listed = ((await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as Board).entries.map(
      (e) => e.submissionId,
    );
    expect(listed).toContain(first);
    expect(listed).toContain(better);
    expect(listed).not.toContain(noise);
    expect((await listSubmissionEvents(stack.db, noise)).at(-1)?.detail).toMatch(
      /no significant improvement/,
    );
    const team_page = await (
      await fetch(`${stack.url}/team`, {
        headers: { authorization: `Bearer ${team.token}`, accept: "text/html" },
      })
    ).text();
    expect(team_page).toContain("no significant improvement");
    // Organizers still see what it scored.
    const full = (await (await api(`/api/v1/submissions/${noise}`)).json()) as {
      organizer: { full: { meanAuc: number }; ladderImproved: boolean };
    };
    expect(full.organizer).toMatchObject({ full: { meanAuc: row(noise).meanAuc }, ladderImproved: false });
  });

  it(
    "applies to what the worker scores: the same model again is withheld",
    { timeout: 600_000 },
    async () => {
      const team = await stack.createTeam();
      const file = await shellModelTarball(CONSTANT_PREDICTIONS);
      const results = [];
      for (const model of ["Constant", "Constant again"]) {
        const { body } = await uploadImage(stack.url, team.token, file, { model });
        results.push(await waitForFinal(stack.url, team.token, body.id));
      }
      expect(results.map((r) => [r.state, (r.ladder as { improved: boolean }).improved])).toEqual([
        ["scored", true],
        ["scored", false],
      ]);
      expect(results[1]!.meanAuc).toBeNull();
    },
  );
});
