-- Team names unique as people read them (packages/db/src/team-names.ts holds the same key in
-- TypeScript, keep the two in step): NFKC, full case folding (lower, upper, lower: root locale),
-- NFKC again, default-ignorable characters dropped, white space runs made one space, trimmed.
ALTER TABLE "Team" ADD COLUMN "nameKey" TEXT;

UPDATE "Team" SET "nameKey" = btrim(
  regexp_replace(
    regexp_replace(
      normalize(lower(upper(lower(normalize("name", NFKC) COLLATE "und-x-icu"))), NFKC),
      '[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF]',
      '', 'g'),
    '[\t\n\v\f\r \u0085\u1680\u2028\u2029]+', ' ', 'g'),
  ' ');

-- Existing look-alikes (registered before this rule) keep their names: the earliest team of each
-- group keeps the plain key, each later one gets its id appended (`<key> #<id>`, which is how an
-- organizer finds them to rename), so the index can be built and no new team can take any of those
-- names. Plain statements only: Prisma's engine sends a migration one statement at a time.
UPDATE "Team" t SET "nameKey" = t."nameKey" || ' #' || t.id::text
FROM (
  SELECT id, row_number() OVER (PARTITION BY "competitionId", "nameKey" ORDER BY "createdAt", id) AS n
  FROM "Team"
) ranked
WHERE ranked.id = t.id AND ranked.n > 1;

ALTER TABLE "Team" ALTER COLUMN "nameKey" SET NOT NULL;

-- DropIndex (the byte-for-byte rule, replaced by the key's)
DROP INDEX "Team_competitionId_name_key";

-- CreateIndex
CREATE UNIQUE INDEX "Team_competitionId_nameKey_key" ON "Team"("competitionId", "nameKey");

-- New competitions approve their teams by default (existing ones keep the setting they have).
ALTER TABLE "Competition" ALTER COLUMN "requireApproval" SET DEFAULT true;
