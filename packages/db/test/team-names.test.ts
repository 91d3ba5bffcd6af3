import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, teamNameKey, type Db } from "../src/index.ts";

const DATABASE_URL =
  process.env.HOLDOUT_TEST_DATABASE_URL ?? "postgresql://holdout:holdout@127.0.0.1:5432/holdout_test";
const MIGRATION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../prisma/migrations/20261206120000_names_emails_approval/migration.sql",
);

// The migration computed existing teams' keys in SQL; new teams get theirs from teamNameKey. The two
// must agree, or a look-alike of a team registered before the migration would get through.
const NAMES = [
  "Team A",
  "team  a",
  "\uFF34\uFF25\uFF21\uFF2D \uFF21",
  " Team\u3000A\u00A0",
  "Stra\u00DFe",
  "STRA\u1E9EE",
  "E\u0301quipe \u00C9QUIPE",
  "\u03A3\u039F\u03A6\u039F\u03A3 \u03C3\u03BF\u03C6\u03BF\u03C2",
  "a\u200Bb\u200Dc\uFE0F\u00ADd",
  "\u0130stanbul \uFB01 \u2163",
  "\u{1F469}\u200D\u{1F52C} Lab",
  "Mo\u{E0041}del",
  "\u6A21\u578B \u30C1\u30FC\u30E0",
  "line\nbreak\ttab",
];

describe("team name keys (real PostgreSQL)", () => {
  let db: Db;
  beforeAll(() => {
    db = createDb(DATABASE_URL, { poolSize: 1 });
  });
  afterAll(() => db.$disconnect());

  it("are the same from the migration's SQL and from teamNameKey", async () => {
    const sql = readFileSync(MIGRATION, "utf8");
    const expression = /UPDATE "Team" SET "nameKey" = ([\s\S]+?);\n/.exec(sql)?.[1];
    expect(expression).toContain("normalize");
    const rows = await db.$queryRawUnsafe<{ i: number; key: string }[]>(
      `SELECT i, ${expression!} AS key FROM unnest($1::text[]) WITH ORDINALITY AS t("name", i) ORDER BY i`,
      NAMES,
    );
    expect(rows.map((r) => r.key)).toEqual(NAMES.map(teamNameKey));
    // And they fold what they should.
    expect(new Set(NAMES.slice(0, 4).map(teamNameKey)).size).toBe(1);
    expect(teamNameKey(NAMES[4]!)).toBe(teamNameKey(NAMES[5]!));
  });
});
