import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TASKS } from "@holdout/scorer";
import { loadHiddenTestset, type HiddenTestset } from "@holdout/worker";
import { TEST_ARTIFACTS_DIR, TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { shellModelTarball, tarBuffer } from "../support/images.ts";
import {
  decimalsOf,
  labelsFromRoc,
  longDecimalsIn,
  numbersIn,
  polylinesIn,
  readEventStream,
} from "../support/leaks.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// The attack, through the real API, worker and engine: a model that gives every study a
// distinct score (its rank in sorted study order) and prints what it reads. While the competition
// is open, no view its team, another team or the public can read carries anything of per-study
// resolution: no curve, no plot, no score past the released precision, no echoed output. Closing
// publishes the curves, and the same attack then rebuilds every label (which shows it is real).

const HEADER = "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion";

/** Every study of the input list (views collapsed), sorted; scored by its rank; and a log line. */
const DISTINCT_SCORES = `echo "model read: $(sed -n 2p "$0")"
awk -F, 'NR > 1 { s = $1; sub(/\\/view[0-9]+_[a-z]+\\.jpg$/, "", s); if (!seen[s]++) print s }' "$0" | sort |
  awk 'BEGIN { print "${HEADER}" } { print $0 "," NR "," NR "," NR "," NR "," NR }' > "$1"`;

/** Valid on the development studies (the smoke run passes); on the test set, a file that echoes a cell. */
const BROKEN_ON_HIDDEN = `if grep -q /test/ "$0"; then
  s=$(sed -n 2p "$0" | sed 's#/view[^/]*$##')
  printf '%s\\n%s,SECRET-CELL,1,1,1,1\\n' "${HEADER}" "$s" > "$1"
else
  awk -F, 'BEGIN { print "${HEADER}" } NR > 1 { s = $1; sub(/\\/view[0-9]+_[a-z]+\\.jpg$/, "", s); if (!seen[s]++) print s ",0.5,0.5,0.5,0.5,0.5" }' "$0" > "$1"
fi`;

describe("the hidden test set stays hidden", () => {
  let stack: Stack;
  let testset: HiddenTestset;
  let owner: { id: string; token: string };
  let other: { id: string; token: string };
  let organizer: { token: string; email: string };
  let attack: string;
  const as = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

  beforeAll(async () => {
    // Floor 0: the attack's entry is listed, so every public view of it is exercised too.
    stack = await startStack({ worker: true, aucFloor: 0 });
    testset = await loadHiddenTestset(TEST_TESTSET_DIR);
    owner = await stack.createTeam();
    other = await stack.createTeam();
    organizer = await stack.createOrganizer();
  });
  afterAll(() => stack?.close());

  async function get(path: string, token?: string, accept = "application/json") {
    const res = await fetch(`${stack.url}${path}`, { headers: { ...as(token), accept } });
    return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
  }

  /** A JSON view: no curve-shaped array, no number past 3 decimals, no test study id. */
  function expectReleasedJson(what: string, text: string) {
    const body = JSON.parse(text) as unknown;
    expect(polylinesIn(body), `${what}: curve-shaped arrays`).toEqual([]);
    // The ranking key is released as mean AUC + 0.001 × rads from the released figures: 3 + 1 decimals.
    const long = numbersIn(body).filter((n) => decimalsOf(n.value) > (n.path.endsWith(".score") ? 4 : 3));
    expect(long, `${what}: numbers past the released precision`).toEqual([]);
    expect(text, `${what}: a test study id`).not.toContain("CheXpert-v1.0/test/");
  }

  /** A page or CSV: no plot, no polyline, no number past 3 decimals, no test study id. */
  function expectReleasedText(what: string, text: string) {
    expect(text, `${what}: a plot`).not.toMatch(/<svg class="plot"|<polyline/);
    expect(longDecimalsIn(text, 3), `${what}: numbers past the released precision`).toEqual([]);
    expect(text, `${what}: a test study id`).not.toContain("CheXpert-v1.0/test/");
  }

  it(
    "a distinct-score submission: nothing its team, another team or the public reads carries per-study detail",
    { timeout: 600_000 },
    async () => {
      const file = await shellModelTarball(DISTINCT_SCORES);
      const { status, body } = await uploadImage(stack.url, owner.token, file, { model: "Distinct scores" });
      expect(status).toBe(202);
      attack = body.id;
      const final = await waitForFinal(stack.url, owner.token, attack);
      expect(final.state).toBe("scored");

      // The submission as its team, another team and the public read it.
      for (const [who, token] of [
        ["owner", owner.token],
        ["other team", other.token],
        ["anyone", undefined],
      ] as const) {
        const s = await get(`/api/v1/submissions/${attack}`, token);
        expect(s.status, who).toBe(200);
        expectReleasedJson(`submission as ${who}`, s.text);
        // The curves wait for the closing, for everyone but organizers.
        const curves = await get(`/api/v1/submissions/${attack}/curves`, token);
        expect(curves.status, who).toBe(403);
        expect(JSON.parse(curves.text)).toMatchObject({ code: "HOLDOUT_ERR_CURVES_NOT_PUBLISHED" });
        const page = await get(`/submissions/${attack}`, token, "text/html");
        expect(page.status, who).toBe(200);
        expectReleasedText(`submission page as ${who}`, page.text);
      }
      const mine = JSON.parse((await get(`/api/v1/submissions/${attack}`, owner.token)).text) as {
        meanAuc: number;
        tasks: unknown[];
        precision: unknown;
        organizer?: unknown;
      };
      expect(mine.tasks).toHaveLength(5);
      expect(mine.precision).toEqual({ auc: 3, rads: 1 });
      expect(mine).not.toHaveProperty("organizer");

      // The timeline, as JSON and as a stream: states and fixed words, no scores.
      const events = await get(`/api/v1/submissions/${attack}/events`, owner.token);
      expectReleasedJson("events", events.text);
      expect(events.text).not.toMatch(/AUC \d/);
      const stream = await readEventStream(
        `${stack.url}/api/v1/submissions/${attack}/events`,
        as(owner.token),
      );
      expect(stream.events.at(-1)).toEqual({ event: "end", data: { state: "scored" } });
      for (const e of stream.events) expectReleasedJson(`event ${e.event}`, JSON.stringify(e.data));
      expect(stream.text).not.toMatch(/AUC \d/);

      // The hidden run's log is withheld (policy none); the smoke run's is the team's.
      const hiddenLog = JSON.parse((await get(`/api/v1/submissions/${attack}/log`, owner.token)).text) as {
        text: string;
      };
      expect(hiddenLog.text).not.toContain("model read:");
      expect(hiddenLog.text).toContain("does not show the log");
      const smokeLog = JSON.parse(
        (await get(`/api/v1/submissions/${attack}/log?phase=smoke`, owner.token)).text,
      ) as { text: string };
      expect(smokeLog.text).toContain("model read: CheXpert-v1.0/valid/");

      // The leaderboard in every form, and the team's page.
      const board = await get("/api/v1/leaderboard");
      expectReleasedJson("leaderboard JSON", board.text);
      expect(board.text).toContain(attack);
      expectReleasedText("leaderboard CSV", (await get("/leaderboard.csv", undefined, "text/csv")).text);
      expectReleasedText("leaderboard page", (await get("/?tasks=1", undefined, "text/html")).text);
      expectReleasedText("team page", (await get("/team", owner.token, "text/html")).text);

      // The attack itself finds nothing to work on.
      for (const view of [board.text, (await get(`/api/v1/submissions/${attack}`, owner.token)).text]) {
        expect(polylinesIn(JSON.parse(view))).toEqual([]);
      }

      // Organizers see it all: the curves, the whole log, the stored scores at full precision.
      const full = JSON.parse((await get(`/api/v1/submissions/${attack}`, organizer.token)).text) as {
        meanAuc: number;
        organizer: { full: { meanAuc: number } };
      };
      expect(full.meanAuc).toBe(Number(full.organizer.full.meanAuc.toFixed(3)));
      expect(decimalsOf(full.organizer.full.meanAuc)).toBeGreaterThan(3);
      expect((await get(`/api/v1/submissions/${attack}/curves`, organizer.token)).status).toBe(200);
      const organizerLog = JSON.parse(
        (await get(`/api/v1/submissions/${attack}/log`, organizer.token)).text,
      ) as {
        text: string;
      };
      expect(organizerLog.text).toContain("model read: CheXpert-v1.0/test/");
      expect((await get(`/submissions/${attack}`, organizer.token, "text/html")).text).toContain(
        '<svg class="plot"',
      );
    },
  );

  it(
    "a hidden run's failure tells the team its category in fixed words; organizers get the worker's message",
    { timeout: 600_000 },
    async () => {
      const file = await shellModelTarball(BROKEN_ON_HIDDEN);
      const { body } = await uploadImage(stack.url, owner.token, file, { model: "Broken on hidden" });
      const final = await waitForFinal(stack.url, owner.token, body.id);
      expect(final).toMatchObject({ state: "failed", failedPhase: "hidden", refunded: false });
      expect(final.failure?.category).toBe("invalid_output");
      // The category's fixed explanation: nothing of the file, no study.
      expect(final.failure?.message).toMatch(
        /^the predictions file broke the required format in the hidden run/,
      );
      for (const text of [
        JSON.stringify(final),
        (await get(`/api/v1/submissions/${body.id}/events`, owner.token)).text,
        (await readEventStream(`${stack.url}/api/v1/submissions/${body.id}/events`, as(owner.token))).text,
        (await get(`/submissions/${body.id}`, owner.token, "text/html")).text,
      ]) {
        expect(text).not.toContain("SECRET-CELL");
        expect(text).not.toContain("CheXpert-v1.0/test/");
      }
      expect((await get(`/submissions/${body.id}`, owner.token, "text/html")).text).toContain(
        "This happened in the hidden run",
      );
      const seen = JSON.parse((await get(`/api/v1/submissions/${body.id}`, organizer.token)).text) as {
        failure: { message: string; detail: string };
      };
      expect(seen.failure.message).toBe(final.failure?.message);
      expect(seen.failure.detail).toMatch(/SECRET-CELL|CheXpert-v1\.0\/test\//);
    },
  );

  it(
    "closing refuses uploads of every kind and publishes the curves, which the attack then reads",
    { timeout: 300_000 },
    async () => {
      expect(attack, "the attack's submission (first test)").toBeDefined();
      // A resumable upload in progress, started before the closing.
      const started = await fetch(`${stack.url}/api/v1/uploads`, {
        method: "POST",
        headers: {
          ...as(other.token),
          "tus-resumable": "1.0.0",
          "upload-length": "2048",
          "upload-metadata": `model ${Buffer.from("Late").toString("base64")}`,
        },
      });
      expect(started.status).toBe(201);
      const uploadUrl = new URL(started.headers.get("location")!, stack.url).toString();

      const close = (confirm: string, token = organizer.token) =>
        fetch(`${stack.url}/api/v1/admin/competition/close`, {
          method: "POST",
          headers: { ...as(token), "content-type": "application/json" },
          body: JSON.stringify({ confirm }),
        });
      expect((await close(stack.competition.slug, owner.token)).status).toBe(403);
      const unconfirmed = await close("yes");
      expect(unconfirmed.status).toBe(400);
      expect(await unconfirmed.json()).toMatchObject({ code: "HOLDOUT_ERR_CONFIRMATION_REQUIRED" });
      const closed = await close(stack.competition.slug);
      expect(closed.status).toBe(200);
      expect(await closed.json()).toMatchObject({
        state: "closed",
        closedBy: `organizer:${organizer.email}`,
      });
      expect(await (await close(stack.competition.slug)).json()).toMatchObject({
        status: 409,
        code: "HOLDOUT_ERR_ALREADY_CLOSED",
      });

      // Every way in is refused with the same problem, and nothing is left behind.
      const tiny = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("late")}.tar`);
      await writeFile(tiny, await tarBuffer({ "manifest.json": "[]" }));
      const multipart = await uploadImage(stack.url, other.token, tiny, { model: "Late" });
      expect(multipart).toMatchObject({ status: 409, body: { code: "HOLDOUT_ERR_COMPETITION_CLOSED" } });
      const created = await fetch(`${stack.url}/api/v1/uploads`, {
        method: "POST",
        headers: {
          ...as(other.token),
          "tus-resumable": "1.0.0",
          "upload-length": "10",
          "upload-metadata": `model ${Buffer.from("Later").toString("base64")}`,
        },
      });
      expect(created.status).toBe(409);
      expect(await created.json()).toMatchObject({ code: "HOLDOUT_ERR_COMPETITION_CLOSED" });
      const patched = await fetch(uploadUrl, {
        method: "PATCH",
        headers: {
          ...as(other.token),
          "tus-resumable": "1.0.0",
          "upload-offset": "0",
          "content-type": "application/offset+octet-stream",
        },
        body: Buffer.alloc(2048),
      });
      expect(patched.status).toBe(409);
      expect(await patched.json()).toMatchObject({ code: "HOLDOUT_ERR_COMPETITION_CLOSED" });
      expect(await stack.db.quotaReservation.count({ where: { teamId: other.id } })).toBe(0);
      expect(await stack.db.submission.count({ where: { teamId: other.id } })).toBe(0);

      // The curves, with the radiologists' points, for anyone: the listed entry's page and API.
      const curves = await get(`/api/v1/submissions/${attack}/curves`);
      expect(curves.status).toBe(200);
      const published = JSON.parse(curves.text) as {
        tasks: { task: string; roc: number[][]; readers: unknown[]; majority: unknown }[];
      };
      expect(published.tasks.map((t) => t.task)).toEqual([...TASKS]);
      for (const t of published.tasks) {
        expect(t.readers).toHaveLength(testset.readers.length);
        expect(t.majority).not.toBeNull();
      }
      const page = await get(`/submissions/${attack}`, undefined, "text/html");
      expect(page.text.match(/<svg class="plot"[^>]*role="img"/g)).toHaveLength(10);

      // The attack now works: every label of every task, exactly (the scores' order is the
      // model's: rank in sorted study order, so descending scores are the sorted ids reversed).
      const descending = [...testset.studies].sort().reverse();
      const row = new Map(testset.studies.map((s, i) => [s, i]));
      let rebuilt = 0;
      for (const t of published.tasks) {
        const labels = labelsFromRoc(t.roc, testset.studies.length);
        expect(labels, t.task).not.toBeNull();
        const truth = testset.truth[t.task as (typeof TASKS)[number]]!;
        descending.forEach((study, k) => {
          if (labels![k] === truth[row.get(study)!]) rebuilt++;
        });
      }
      expect(rebuilt).toBe(testset.studies.length * TASKS.length);
    },
  );
});
