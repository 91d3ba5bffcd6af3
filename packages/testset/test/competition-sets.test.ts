import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCompetitionSets, CompetitionSetsError, contentSha256, generateTestset } from "../src/index.ts";

describe("checkCompetitionSets", () => {
  let work: string;
  const at = (name: string) => join(work, name);
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "holdout-sets-"));
    await generateTestset({ outDir: at("triage"), scorer: "mean-auc", studies: 16, longSide: 64 });
    await generateTestset({
      outDir: at("triage-dev"),
      scorer: "mean-auc",
      kind: "dev",
      studies: 12,
      longSide: 64,
    });
    await generateTestset({ outDir: at("chexpert"), studies: 16, longSide: 64 });
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it("returns the manifest's scorer and tasks and both sets' content hashes", async () => {
    const sets = await checkCompetitionSets({ testsetDir: at("triage"), devsetDir: at("triage-dev") });
    expect(sets.scorer).toBe("mean-auc");
    expect(sets.tasks.length).toBeGreaterThan(0);
    expect(sets.tasks).not.toContain("Atelectasis");
    expect(sets.testsetSha256).toBe(await contentSha256(at("triage")));
    expect(sets.devsetSha256).toBe(await contentSha256(at("triage-dev")));
    expect(sets.devsetSha256).not.toBe(sets.testsetSha256);
  });

  it("hashes content, not place: a copy hashes the same, one changed label does not", async () => {
    await cp(at("chexpert"), at("copy"), { recursive: true });
    expect(await contentSha256(at("copy"))).toBe(await contentSha256(at("chexpert")));
    await writeFile(join(at("copy"), "private", "extra.csv"), "Study\n");
    expect(await contentSha256(at("copy"))).not.toBe(await contentSha256(at("chexpert")));
  });

  it("refuses a scorer the manifest does not name, a development set scored otherwise, a broken set", async () => {
    await expect(checkCompetitionSets({ testsetDir: at("triage"), scorer: "chexpert" })).rejects.toThrow(
      new CompetitionSetsError("scorer", [
        "chexpert was asked for, but the test set's manifest names mean-auc",
      ]),
    );
    await expect(
      checkCompetitionSets({ testsetDir: at("chexpert"), devsetDir: at("triage-dev") }),
    ).rejects.toThrow(/^devset: .* must agree$/);
    await expect(checkCompetitionSets({ testsetDir: at("missing") })).rejects.toThrow(/^testset: .*missing/);
  });
});
