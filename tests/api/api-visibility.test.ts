import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCompetition,
  createSubmission,
  createTeamWithToken,
  markQueued,
  markScoring,
  recordScore,
  startRun,
} from "@holdout/db";
import { uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// Who sees what, endpoint by endpoint, for the four kinds of caller. Others' private submissions
// are 404 (their existence is private too); listed ones show only the leaderboard's fields.

type Who = "anonymous" | "other" | "owner" | "organizer";
const WHO: Who[] = ["anonymous", "other", "owner", "organizer"];

describe("visibility matrix", () => {
  let stack: Stack;
  const tokens: Partial<Record<Who, string>> = {};
  let ownerId: string;
  let listed: string;
  let privateId: string;
  let uploadId: string;

  async function addSubmission(teamId: string, scored: boolean) {
    const id = randomUUID();
    await createSubmission(stack.db, {
      id,
      competitionId: stack.competition.id,
      teamId,
      modelName: scored ? "Listed" : "Private",
      description: "secret description",
      link: null,
      ensemble: false,
      uploadFile: `${id}.tar`,
      uploadSize: 10,
      uploadSha256: "0".repeat(64),
    });
    await markQueued(stack.db, id);
    if (scored) {
      const { lease } = await startRun(stack.db, id, { worker: "w", leaseMs: 60_000 });
      await markScoring(stack.db, lease!, { digest: "sha256:x", size: 1 });
      await recordScore(stack.db, lease!, {
        meanAuc: 0.9,
        meanRadsBelowCurve: 2,
        score: 0.9,
        tasks: [
          {
            task: "Edema",
            auc: 0.9,
            radsBelowCurve: 2,
            roc: [
              [0, 0],
              [0.1, 0.8],
              [1, 1],
            ],
          },
        ],
      });
    }
    return id;
  }

  beforeAll(async () => {
    stack = await startStack();
    const owner = await stack.createTeam();
    ownerId = owner.id;
    tokens.owner = owner.token;
    tokens.other = (await stack.createTeam()).token;
    tokens.organizer = (await stack.createOrganizer()).token;
    listed = await addSubmission(owner.id, true);
    privateId = await addSubmission(owner.id, false);
    // A resumable upload of the owner's, in progress.
    const created = await fetch(`${stack.url}/api/v1/uploads`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${owner.token}`,
        "tus-resumable": "1.0.0",
        "upload-length": "1000",
        "upload-metadata": `model ${Buffer.from("In progress").toString("base64")}`,
      },
    });
    uploadId = created.headers.get("location")!.split("/").pop()!;
  });
  afterAll(() => stack?.close());

  async function get(who: Who, path: string, method = "GET") {
    const token = tokens[who];
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        // Resumable uploads speak tus 1.0, whose every request names its version (else 412).
        ...(path.startsWith("/api/v1/uploads") ? { "tus-resumable": "1.0.0" } : {}),
      },
    });
    const text = await res.text();
    const json = res.headers.get("content-type")?.includes("json") ?? false;
    return { status: res.status, body: (json ? JSON.parse(text) : null) as Record<string, unknown> };
  }

  // [endpoint, expected status for anonymous, other team, owner, organizer]
  const matrix: [
    string,
    string,
    (ids: { listed: string; priv: string; team: string; upload: string }) => string,
    number[],
  ][] = [
    ["listed submission", "GET", (i) => `/api/v1/submissions/${i.listed}`, [200, 200, 200, 200]],
    ["private submission", "GET", (i) => `/api/v1/submissions/${i.priv}`, [404, 404, 200, 200]],
    ["log of a listed one", "GET", (i) => `/api/v1/submissions/${i.listed}/log`, [401, 404, 200, 200]],
    ["log of a private one", "GET", (i) => `/api/v1/submissions/${i.priv}/log`, [401, 404, 200, 200]],
    ["events", "GET", (i) => `/api/v1/submissions/${i.priv}/events`, [401, 404, 200, 200]],
    ["smoke log", "GET", (i) => `/api/v1/submissions/${i.priv}/log?phase=smoke`, [401, 404, 200, 200]],
    ["cancel a final one", "POST", (i) => `/api/v1/submissions/${i.listed}/cancel`, [401, 404, 409, 409]],
    ["someone's upload", "DELETE", (i) => `/api/v1/uploads/${i.upload}`, [401, 404, 204, 403]],
    // Hidden-set curves are published at closing: while open, organizers only (the others are
    // told why; a private entry's stay 404 below).
    ["curves", "GET", (i) => `/api/v1/submissions/${i.listed}/curves`, [403, 403, 403, 200]],
    ["curves of a private one", "GET", (i) => `/api/v1/submissions/${i.priv}/curves`, [404, 404, 403, 200]],
    ["hide", "POST", (i) => `/api/v1/submissions/${i.priv}/hide`, [401, 404, 200, 200]],
    ["unhide", "POST", (i) => `/api/v1/submissions/${i.priv}/unhide`, [401, 404, 200, 200]],
    ["an unknown id", "GET", () => `/api/v1/submissions/${randomUUID()}`, [404, 404, 404, 404]],
    ["a malformed id", "GET", () => `/api/v1/submissions/'%20OR%201=1--`, [404, 404, 404, 404]],
    ["submission list", "GET", () => `/api/v1/submissions`, [401, 200, 200, 200]],
    ["quota", "GET", () => `/api/v1/quota`, [401, 200, 200, 400]],
    ["a team's quota", "GET", (i) => `/api/v1/quota?team=${i.team}`, [401, 200, 200, 200]],
    ["tokens", "GET", () => `/api/v1/tokens`, [401, 200, 200, 200]],
    ["who am I", "GET", () => `/api/v1/session`, [401, 200, 200, 200]],
    ["leaderboard", "GET", () => `/api/v1/leaderboard`, [200, 200, 200, 200]],
    ["leaderboard CSV", "GET", () => `/leaderboard.csv`, [200, 200, 200, 200]],
    ["admin settings", "GET", () => `/api/v1/admin/settings`, [401, 403, 403, 200]],
    ["admin teams", "GET", () => `/api/v1/admin/teams`, [401, 403, 403, 200]],
    ["approve", "POST", (i) => `/api/v1/admin/teams/${i.team}/approve`, [401, 403, 403, 204]],
  ];

  const ids = () => ({ listed, priv: privateId, team: ownerId, upload: uploadId });
  let another: { slug: string; token: string } | undefined;
  /** A second competition on this server, with a team of its own. */
  async function otherCompetition() {
    if (another) return another;
    const slug = uniqueName("other");
    const phase = { name: "Test", data: "hidden", feedback: "released", ranked: true, endsAt: null } as const;
    const c = await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug,
        name: "Other",
        testsetDir: "/unused",
        testsetSha256: "b".repeat(64),
        phases: [{ ...phase, startsAt: new Date() }],
      },
    );
    const team = await createTeamWithToken(stack.db, { competitionId: c.id, name: uniqueName("Other team") });
    another = { slug, token: team.token };
    return another;
  }

  it.each(matrix)("%s (%s)", async (_name, method, path, expected) => {
    const url = path(ids());
    const got: number[] = [];
    for (const who of WHO) {
      const { status, body } = await get(who, url, method);
      got.push(status);
      if (status >= 400) {
        expect(body.status).toBe(status);
        expect(body.code).toMatch(/^HOLDOUT_ERR_/);
      }
    }
    expect(got).toEqual(expected);
  });

  // The competition axis: the same requests through another competition's scope on the same server
  // (its API under /api/v1/competitions/{slug}). Nothing of this competition answers there: this
  // competition's team tokens are unknown (401), and that competition's team, an organizer and
  // anonymous callers find none of these submissions or uploads.
  const crossing = matrix.filter(([, , path]) => /^\/api\/v1\/(submissions|uploads)\/./.test(path(ids())));
  it.each(crossing)("through another competition: %s (%s)", async (_name, method, path) => {
    const other = await otherCompetition();
    const url = path(ids()).replace(/^\/api\/v1/, `/api/v1/competitions/${other.slug}`);
    for (const who of ["owner", "other"] as const) {
      expect((await get(who, url, method)).status, who).toBe(401);
    }
    for (const [who, token] of [
      ["its team", other.token],
      ["organizer", tokens.organizer],
      ["anonymous", undefined],
    ] as const) {
      const res = await fetch(`${stack.url}${url}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(url.includes("/uploads/") ? { "tus-resumable": "1.0.0" } : {}),
        },
      });
      const text = await res.text();
      // (403: what organizers may never do, as in this competition's own scope.)
      expect([401, 403, 404], `${who}: ${res.status} ${text}`).toContain(res.status);
      expect(text).not.toContain("secret description");
    }
  });

  it("others see only the leaderboard fields of a listed submission; owner and organizer see all", async () => {
    for (const who of ["anonymous", "other"] as const) {
      const { body } = await get(who, `/api/v1/submissions/${listed}`);
      expect(body).toMatchObject({ id: listed, model: "Listed", meanAuc: 0.9 });
      for (const privateField of ["state", "description", "upload", "failure", "links", "hidden"]) {
        expect(body).not.toHaveProperty(privateField);
      }
    }
    for (const who of ["owner", "organizer"] as const) {
      const { body } = await get(who, `/api/v1/submissions/${listed}`);
      expect(body).toMatchObject({ state: "scored", description: "secret description" });
    }
    const refused = await get("owner", `/api/v1/submissions/${listed}/curves`);
    expect(refused.body).toMatchObject({ status: 403, code: "HOLDOUT_ERR_CURVES_NOT_PUBLISHED" });
    const curves = await get("organizer", `/api/v1/submissions/${listed}/curves`);
    expect(curves.body).toEqual({
      tasks: [
        {
          task: "Edema",
          auc: 0.9,
          roc: [
            [0, 0],
            [0.1, 0.8],
            [1, 1],
          ],
          pr: null,
          readers: [],
          majority: null,
        },
      ],
    });
  });

  it("lists: a team sees only its own, an organizer everyone's", async () => {
    const ids = async (who: Who) =>
      ((await get(who, "/api/v1/submissions")).body.submissions as { id: string }[]).map((s) => s.id).sort();
    expect(await ids("other")).toEqual([]);
    expect(await ids("owner")).toEqual([listed, privateId].sort());
    expect(await ids("organizer")).toEqual(expect.arrayContaining([listed, privateId]));
  });

  it("a team hides its entry from the leaderboard and from others, and brings it back", async () => {
    const onBoard = async () =>
      ((await get("anonymous", "/api/v1/leaderboard")).body.entries as { submissionId: string }[]).some(
        (e) => e.submissionId === listed,
      );
    expect(await onBoard()).toBe(true);
    const hidden = await get("owner", `/api/v1/submissions/${listed}/hide`, "POST");
    expect(hidden.body).toMatchObject({ hidden: true });
    expect(await onBoard()).toBe(false);
    expect((await get("anonymous", `/api/v1/submissions/${listed}`)).status).toBe(404);
    expect((await get("other", `/api/v1/submissions/${listed}`)).status).toBe(404);
    expect((await get("owner", `/api/v1/submissions/${listed}`)).status).toBe(200);
    await get("owner", `/api/v1/submissions/${listed}/unhide`, "POST");
    expect(await onBoard()).toBe(true);
  });
});
