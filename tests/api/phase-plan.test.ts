import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCompetition, listAudit, listPhases, type PhaseSpec } from "@holdout/db";
import { TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { tarBuffer } from "../support/images.ts";
import { callApi, startStack, type ApiBody, type Stack } from "../support/stack.ts";

// An organizer changes a competition's plan of phases while it runs (PUT …/admin/competition/phases,
// as `holdout competition phases SLUG --phase …`): dates move, the open phase ends early or later,
// phases to come change; what entries were made under stays as it was; a refusal changes nothing.

type Json = ApiBody;

describe("changing a competition's phases", () => {
  let stack: Stack;
  let organizer: { token: string };
  const hour = 3_600_000;
  const at = (ms: number) => new Date(Date.now() + ms);

  const call = (method: string, path: string, body: unknown, token?: string) =>
    callApi(stack.url, method, path, { body, ...(token ? { token } : {}) });
  async function competition(phases: PhaseSpec[]) {
    const slug = uniqueName("plan");
    const c = await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug,
        name: slug,
        testsetDir: TEST_TESTSET_DIR,
        testsetSha256: "b".repeat(64),
        phases,
        requireApproval: false,
      },
    );
    return { id: c.id, slug, api: `/api/v1/competitions/${slug}`, phases: c.phases };
  }
  const twoPhases = (): PhaseSpec[] => [
    {
      name: "Public",
      data: "hidden_public",
      feedback: "released",
      startsAt: at(-hour),
      endsAt: at(hour),
      ranked: true,
      quotaPerDay: 2,
    },
    {
      name: "Final",
      data: "hidden",
      feedback: "released",
      startsAt: at(hour),
      endsAt: at(2 * hour),
      ranked: true,
    },
  ];
  const line = (name: string, data: string, start: Date, end: Date | null) =>
    `${name},${data},${start.toISOString()},${end ? end.toISOString() : "open"}`;

  beforeAll(async () => {
    stack = await startStack();
    organizer = await stack.createOrganizer();
  });
  afterAll(() => stack?.close());

  it("extends the open phase and moves the next one, keeping what was not given, with an audit row", async () => {
    const c = await competition(twoPhases());
    const [open] = c.phases;
    const later = at(3 * hour);
    const res = await call(
      "PUT",
      `${c.api}/admin/competition/phases`,
      {
        phases: [
          line("Public", "hidden_public", open!.startsAt, at(90 * 60_000)),
          line("Final", "hidden", at(90 * 60_000), later),
        ],
      },
      organizer.token,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const phases = await listPhases(stack.db, c.id);
    expect(phases.map((p) => [p.name, p.endsAt?.getTime() ?? null])).toEqual([
      ["Public", phases[0]!.endsAt!.getTime()],
      ["Final", later.getTime()],
    ]);
    // The open phase kept its row (its entries point at it) and its quota, which the lines leave out.
    expect(phases[0]).toMatchObject({ id: open!.id, quotaPerDay: 2 });
    expect(res.body.changes).toEqual([
      expect.stringMatching(/^1\. Public: ends .* → /),
      "2. Final: removed",
      expect.stringMatching(/^2\. Final \(hidden\): /),
    ]);
    const [audit] = await listAudit(stack.db, c.id, { limit: 1 });
    expect(audit?.action).toBe("competition.phases");
    expect(audit?.actor).toMatch(/^organizer:/);
  });

  it("refuses what would rewrite a started phase or the past, naming the phase, and changes nothing", async () => {
    const c = await competition(twoPhases());
    const start = c.phases[0]!.startsAt;
    const refusals: [string[], RegExp][] = [
      [
        [line("Public", "hidden", start, at(hour)), line("Final", "hidden", at(hour), null)],
        /^phases: phase 1 "Public": has started on the hidden_public data, which cannot change/,
      ],
      [
        [line("Public", "hidden_public", at(-30 * 60_000), at(hour))],
        /^phases: phase 1 "Public": has started at .*, which cannot change/,
      ],
      [
        [line("Public", "hidden_public", start, at(-60_000))],
        /^phases: phase 1 "Public": is open: it may end now .* or later/,
      ],
      [[], /phases/],
      [
        [line("Public", "hidden_public", start, at(hour)), line("Final", "hidden", at(30 * 60_000), null)],
        /^phases: phase 2 "Final": starts .* before phase 1 "Public" ends/,
      ],
    ];
    for (const [phases, detail] of refusals) {
      const res = await call("PUT", `${c.api}/admin/competition/phases`, { phases }, organizer.token);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.detail).toMatch(detail);
    }
    const after = await listPhases(stack.db, c.id);
    expect(after.map((p) => [p.id, p.endsAt?.getTime()])).toEqual(
      c.phases.map((p) => [p.id, p.endsAt?.getTime()]),
    );
  });

  it("ends the open phase now: uploads are refused at once, naming the phase that opens next", async () => {
    const c = await competition(twoPhases());
    const team = await call("POST", `${c.api}/teams`, {
      name: uniqueName("Team"),
      institution: "Somewhere",
      email: `${uniqueName("t")}@example.org`,
      password: "correct horse battery",
      acceptTerms: true,
    });
    expect(team.status).toBe(201);
    const next = at(hour);
    const res = await call(
      "PUT",
      `${c.api}/admin/competition/phases`,
      {
        phases: [
          `Public,hidden_public,${c.phases[0]!.startsAt.toISOString()},now`,
          line("Final", "hidden", next, null),
        ],
      },
      organizer.token,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const fd = new FormData();
    fd.append("model", "m");
    fd.append("image", new Blob([await tarBuffer({ "manifest.json": "[]" })]), "m.tar");
    const upload = await fetch(`${stack.url}${c.api}/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${team.body.token as string}` },
      body: fd,
    });
    const problem = (await upload.json()) as Json;
    expect(upload.status).toBe(409);
    expect(problem).toMatchObject({ code: "HOLDOUT_ERR_NO_OPEN_PHASE" });
    expect(problem.detail).toContain(`the next one, "Final", opens at ${next.toISOString()}`);
    // A team is no organizer.
    const byTeam = await call(
      "PUT",
      `${c.api}/admin/competition/phases`,
      { phases: [line("Public", "hidden_public", c.phases[0]!.startsAt, null)] },
      team.body.token as string,
    );
    expect(byTeam.status).toBe(403);
  });

  it("keeps a closed competition's phases as they ran", async () => {
    const c = await competition(twoPhases());
    const closed = await call(
      "POST",
      `${c.api}/admin/competition/close`,
      { confirm: c.slug },
      organizer.token,
    );
    expect(closed.status).toBe(200);
    const res = await call(
      "PUT",
      `${c.api}/admin/competition/phases`,
      { phases: [line("Public", "hidden_public", c.phases[0]!.startsAt, null)] },
      organizer.token,
    );
    expect(res).toMatchObject({ status: 409, body: { code: "HOLDOUT_ERR_COMPETITION_CLOSED" } });
    expect(res.body.detail).toBe(`competition ${c.slug} is closed: its phases can no longer change`);
  });
});
