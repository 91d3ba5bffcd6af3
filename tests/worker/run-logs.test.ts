import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunLog } from "@holdout/contracts/http";
import { sessionCookieFor } from "../support/browser.ts";
import { holdout } from "../support/cli.ts";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// A long log, as the worker stores it and as the page and the API describe it: the smoke run's
// keeps its beginning and end (the sandbox's cap), the hidden run's shows the team only its end
// (a `tail` policy), and organizers read the whole captured log. The words must say what is there.

const CHATTY = `echo "FIRST LINE"
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "filler line %d of the model long output\\n", i }'
echo "LAST LINE"
${CONSTANT_PREDICTIONS}`;

describe("a long log: what is kept, and what the page and the API say is kept", () => {
  let stack: Stack;
  let team: { id: string; token: string };
  let organizer: { id: string; token: string };
  let id: string;

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      workerEnv: {
        HOLDOUT_RUN_LOG_KB: "16",
        HOLDOUT_HIDDEN_LOG_POLICY: "tail",
        HOLDOUT_HIDDEN_LOG_TAIL_KB: "1",
      },
    });
    team = await stack.createTeam();
    organizer = await stack.createOrganizer();
    const { body } = await uploadImage(stack.url, team.token, await shellModelTarball(CHATTY), {
      model: "Chatty",
    });
    id = body.id;
    expect((await waitForFinal(stack.url, team.token, id)).state).toBe("scored");
  }, 240_000);
  afterAll(() => stack?.close());

  const log = async (phase: string, token: string) =>
    (await (
      await fetch(`${stack.url}/api/v1/submissions/${id}/log?phase=${phase}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as RunLog;

  it("the smoke run's log keeps its beginning and its end, and says so", async () => {
    const smoke = await log("smoke", team.token);
    expect(smoke).toMatchObject({ truncated: true, kept: "beginning_and_end" });
    expect(smoke.text.startsWith("FIRST LINE\n")).toBe(true);
    expect(smoke.text).toMatch(/\[holdout: log truncated: \d+ bytes dropped here;/);
    expect(smoke.text.endsWith("LAST LINE\n")).toBe(true);
  });

  it("the hidden run's log shows the team only its end, and says so; organizers read it whole", async () => {
    const hidden = await log("hidden", team.token);
    expect(hidden).toMatchObject({ truncated: true, kept: "end" });
    expect(hidden.text).not.toContain("FIRST LINE");
    expect(hidden.text.endsWith("LAST LINE\n")).toBe(true);
    const whole = await log("hidden", organizer.token);
    expect(whole).toMatchObject({ truncated: true, kept: "beginning_and_end" });
    expect(whole.text.startsWith("FIRST LINE\n")).toBe(true);
  });

  it("the page's notes match: beginning and end for the smoke run, only the end for the hidden one", async () => {
    const html = await (
      await fetch(`${stack.url}/submissions/${id}`, {
        headers: { accept: "text/html", cookie: await sessionCookieFor(stack.db, { teamId: team.id }) },
      })
    ).text();
    const notes = [...html.matchAll(/<h2>([^<]+ log[^<]*)<\/h2>\s*<p class="meta">([^<]+)<\/p>/g)].map(
      (m) => [m[1], m[2]],
    );
    expect(notes).toEqual([
      [
        "Smoke run log (development images)",
        "The log was longer than the size cap: its beginning and its end are kept, and the marked line in between says how much was dropped.",
      ],
      [
        "Hidden run log",
        "Only the end of the hidden run&#39;s log is shown (this competition&#39;s log policy): the marked first line says how much.",
      ],
    ]);
  });

  it("the CLI prints the log and says the same on stderr", async () => {
    const env = { HOLDOUT_SERVER: stack.url, HOLDOUT_TOKEN: team.token };
    const hidden = await holdout(["status", id, "--log", "hidden"], env);
    expect(hidden.code, hidden.stderr).toBe(0);
    expect(hidden.stdout.endsWith("LAST LINE\n")).toBe(true);
    expect(hidden.stderr).toContain("(Only the end of the hidden run's log is shown");
    const smoke = await holdout(["status", id, "--log", "smoke"], env);
    expect(smoke.stdout.startsWith("FIRST LINE\n")).toBe(true);
    expect(smoke.stderr).toContain("its beginning and its end are kept");
  });
});
