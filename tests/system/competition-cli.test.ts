import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, showCompetition, type Db } from "@holdout/db";
import { holdout } from "../support/cli.ts";
import { TEST_DATABASE_URL, TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import { TEST_DEVSET_DIR } from "../support/global-setup.ts";

// `holdout competition create|list|show` on the server's database: the sets checked and hashed, the
// scorer from the test set's manifest, phases from --phase lines or a file; every refusal says
// what is wrong (and which phase) and writes nothing.

describe("holdout competition create, list, show", () => {
  let db: Db;
  let work: string;
  let meanAucSet: string;
  const env = { DATABASE_URL: TEST_DATABASE_URL };
  const run = (...args: string[]) => holdout(["competition", ...args], env);

  beforeAll(async () => {
    db = createDb(TEST_DATABASE_URL, { poolSize: 1 });
    work = await mkdtemp(path.join(os.tmpdir(), "holdout-competition-cli-"));
    meanAucSet = path.join(work, "triage");
    const gen = await holdout(
      [
        "testset",
        "generate",
        "--scorer",
        "mean-auc",
        "--studies",
        "20",
        "--long-side",
        "64",
        "--out",
        meanAucSet,
      ],
      {},
    );
    expect(gen.code, gen.stderr).toBe(0);
  });
  afterAll(async () => {
    await db?.$disconnect();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("creates a mean-auc competition with one phase open from now, then lists and shows it", async () => {
    const slug = uniqueName("triage");
    const created = await run(
      "create",
      "--slug",
      slug,
      "--name",
      "Triage",
      "--testset",
      meanAucSet,
      "--json",
    );
    expect(created.code, created.stderr).toBe(0);
    const out = JSON.parse(created.stdout) as { scorer: string; tasks: string[]; phases: { name: string }[] };
    expect(out.scorer).toBe("mean-auc");
    expect(out.tasks).not.toContain("Atelectasis");
    expect(out.phases.map((p) => p.name)).toEqual(["Hidden test set"]);
    const stored = await showCompetition(db, slug);
    expect(stored).toMatchObject({
      scorer: "mean_auc",
      status: "open",
      testsetDir: meanAucSet,
      tasks: out.tasks,
    });
    expect(stored!.testsetSha256).toMatch(/^[0-9a-f]{64}$/);

    const list = await run("list");
    expect(list.stdout).toMatch(
      new RegExp(`^${slug}\\topen\\tmean_auc\\tTriage\\tphase Hidden test set`, "m"),
    );
    const show = await run("show", slug);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`scorer: mean_auc on ${out.tasks.join(", ")}`);
    expect(show.stdout).toContain("1. Hidden test set: hidden, released feedback, ranked");
  });

  it("takes a development phase and a test phase from a file", async () => {
    const slug = uniqueName("phased");
    const file = path.join(work, `${slug}.phases`);
    await writeFile(file, "# development first\nDev,development,now,+7d\nTest,hidden,+7d,+14d\n");
    const created = await run(
      "create",
      "--slug",
      slug,
      "--name",
      "Phased",
      "--testset",
      TEST_TESTSET_DIR,
      "--devset",
      TEST_DEVSET_DIR,
      "--phases",
      file,
    );
    expect(created.code, created.stderr).toBe(0);
    const stored = await showCompetition(db, slug);
    expect(stored!.phases.map((p) => [p.name, p.data, p.feedback, p.ranked])).toEqual([
      ["Dev", "development", "full", false],
      ["Test", "hidden", "released", true],
    ]);
    expect(stored!.devsetSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses what cannot be, saying what and where, and writes nothing", async () => {
    const slug = uniqueName("refused");
    const base = ["create", "--slug", slug, "--name", "Refused"];
    const cases: [string[], RegExp][] = [
      [
        [...base, "--testset", meanAucSet, "--scorer", "chexpert"],
        /scorer: chexpert was asked for, but the test set's manifest names mean-auc/,
      ],
      [
        [...base, "--testset", TEST_TESTSET_DIR, "--scorer", "f1"],
        /--scorer: must be one of chexpert, mean-auc, got f1/,
      ],
      [[...base, "--testset", path.join(work, "missing")], /^holdout: testset: .*missing/m],
      [[...base, "--testset", TEST_TESTSET_DIR, "--devset", meanAucSet], /devset: .* must agree/],
      [
        [...base, "--testset", TEST_TESTSET_DIR, "--phase", "A,hidden,now,+1d", "--phase", "B,hidden,+12h,"],
        /phase 2 "B": starts .* before phase 1 "A" ends/,
      ],
      [
        [...base, "--testset", TEST_TESTSET_DIR, "--phase", "A,hiden,now,+1d"],
        /phase 1: data "hiden" is not one of development, hidden, hidden_public/,
      ],
      [
        [...base, "--testset", TEST_TESTSET_DIR, "--phase", "Dev,development,now,"],
        /phase 1 "Dev": runs on the development set, but the competition has none/,
      ],
      [
        [...base, "--testset", TEST_TESTSET_DIR, "--phase", "A,hidden,tomorrow,"],
        /phase 1: start "tomorrow" is not a time/,
      ],
      [
        ["create", "--slug", "Bad Slug", "--name", "X", "--testset", TEST_TESTSET_DIR],
        /slug: must be 1 to 63 lowercase letters/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await showCompetition(db, slug)).toBeNull();

    const taken = await run("create", "--slug", slug, "--name", "First", "--testset", TEST_TESTSET_DIR);
    expect(taken.code, taken.stderr).toBe(0);
    const again = await run("create", "--slug", slug, "--name", "Second", "--testset", TEST_TESTSET_DIR);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`a competition with the slug ${slug} already exists`);
    const missing = await run("show", uniqueName("nothing"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no competition .* in this database/);
  });

  it("prints the plan of phases as lines, takes it back edited, and refuses rewriting a started phase", async () => {
    const slug = uniqueName("plan");
    const created = await run(
      "create",
      ...["--slug", slug, "--name", "Plan", "--testset", TEST_TESTSET_DIR],
      ...["--phase", "Public,hidden_public,now,+1d", "--phase", "Final,hidden,+1d,"],
    );
    expect(created.code, created.stderr).toBe(0);
    const printed = await run("phases", slug);
    expect(printed.code, printed.stderr).toBe(0);
    const lines = printed.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^# .*: name,data,start,end/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^Public,hidden_public,\S+Z,\S+Z,released,ranked$/),
      expect.stringMatching(/^Final,hidden,\S+Z,open,released,ranked$/),
    ]);
    // Given back unchanged, nothing changes; from standard input with the final phase given an end.
    const same = await holdout(["competition", "phases", slug, "--phases", "-"], env, printed.stdout);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr.trim()).toBe("no change");
    const ends = "2027-06-01T00:00:00.000Z";
    const edited = printed.stdout.replace(/,open,/, `,${ends},`);
    const changed = await holdout(["competition", "phases", slug, "--phases", "-", "--json"], env, edited);
    expect(changed.code, changed.stderr).toBe(0);
    const phases = JSON.parse(changed.stdout) as { name: string; endsAt: string | null }[];
    expect(phases.map((p) => [p.name, p.endsAt !== null])).toEqual([
      ["Public", true],
      ["Final", true],
    ]);
    expect(phases[1]!.endsAt).toBe(ends);

    const refused = await run("phases", slug, "--phase", `Public,hidden,${lines[1]!.split(",")[2]},+1d`);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /phase 1 "Public": has started on the hidden_public data, which cannot change/,
    );
  });

  it("takes the terms at creation and the page's text from files, and says which file it cannot read", async () => {
    const slug = uniqueName("terms");
    const terms = path.join(work, "terms.md");
    await writeFile(terms, "Use the data for **this** challenge only.\r\n");
    const created = await run(
      "create",
      "--slug",
      slug,
      "--name",
      "Terms",
      "--testset",
      meanAucSet,
      "--terms",
      terms,
    );
    expect(created.code, created.stderr).toBe(0);
    expect((await showCompetition(db, slug))?.terms).toBe("Use the data for **this** challenge only.\n");

    const overview = path.join(work, "overview.md");
    await writeFile(overview, "# Triage\n\nFind the fractures.\n");
    const empty = path.join(work, "empty.md");
    await writeFile(empty, "\n");
    const page = await run("page", slug, "--overview", overview, "--terms", empty);
    expect(page.code, page.stderr).toBe(0);
    expect(page.stdout).toContain(`/c/${slug}/competition`);
    const stored = await showCompetition(db, slug);
    // An empty file puts the standard text back (null).
    expect(stored).toMatchObject({ pageOverview: "# Triage\n\nFind the fractures.\n", terms: null });

    const missing = await run("page", slug, "--rules", path.join(work, "nope.md"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--rules: cannot read .*nope\.md/);
    const nothing = await run("page", slug);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/give at least one of --overview, --data, --rules, --terms/);
    const unknown = await run(
      "create",
      "--slug",
      uniqueName("t"),
      "--name",
      "T",
      "--testset",
      meanAucSet,
      "--terms",
      path.join(work, "nope.md"),
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--terms: cannot read/);
  });
});
