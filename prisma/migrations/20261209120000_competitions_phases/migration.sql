-- Competitions become data (their own sets, scorer, runtime image and terms) and run in phases.
-- An existing single-competition database is upgraded in place: each competition gets one phase on
-- the hidden set (released precision, ranked, the competition's quota) from its creation to its
-- closing, and every submission and quota reservation joins it.

-- CreateEnum
CREATE TYPE "Scorer" AS ENUM ('chexpert', 'mean_auc');

-- CreateEnum
CREATE TYPE "PhaseData" AS ENUM ('development', 'hidden', 'hidden_public');

-- CreateEnum
CREATE TYPE "PhaseFeedback" AS ENUM ('full', 'released');

-- AlterTable
ALTER TABLE "Competition" ADD COLUMN     "devsetDir" TEXT,
ADD COLUMN     "devsetSha256" TEXT,
ADD COLUMN     "runtimeImage" TEXT,
ADD COLUMN     "scorer" "Scorer" NOT NULL DEFAULT 'chexpert',
ADD COLUMN     "terms" TEXT,
ADD COLUMN     "testsetDir" TEXT,
ADD COLUMN     "testsetSha256" TEXT;

-- CreateTable
CREATE TABLE "Phase" (
    "id" UUID NOT NULL,
    "competitionId" UUID NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "startsAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endsAt" TIMESTAMPTZ(3),
    "data" "PhaseData" NOT NULL DEFAULT 'hidden',
    "feedback" "PhaseFeedback" NOT NULL DEFAULT 'released',
    "quotaPerDay" INTEGER,
    "quotaTotal" INTEGER,
    "ranked" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Phase_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Phase_competitionId_ordinal_key" ON "Phase"("competitionId", "ordinal");

-- CreateIndex
CREATE INDEX "Phase_competitionId_startsAt_idx" ON "Phase"("competitionId", "startsAt");

-- AddForeignKey
ALTER TABLE "Phase" ADD CONSTRAINT "Phase_competitionId_fkey" FOREIGN KEY ("competitionId") REFERENCES "Competition"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A phase ends after it starts, quotas are counts, ordinals count from 1. Full feedback (curves,
-- per-study detail) is for public data only: a hidden-set phase releases rounded aggregates.
ALTER TABLE "Phase" ADD CONSTRAINT "Phase_ends_after_start" CHECK ("endsAt" IS NULL OR "endsAt" > "startsAt");
ALTER TABLE "Phase" ADD CONSTRAINT "Phase_quota_positive" CHECK (("quotaPerDay" IS NULL OR "quotaPerDay" >= 0) AND ("quotaTotal" IS NULL OR "quotaTotal" >= 0));
ALTER TABLE "Phase" ADD CONSTRAINT "Phase_ordinal_positive" CHECK ("ordinal" >= 1);
ALTER TABLE "Phase" ADD CONSTRAINT "Phase_full_feedback_public_data" CHECK ("feedback" = 'released' OR "data" = 'development');

-- Each existing competition's one phase: the hidden set from its creation until its closing (a
-- closing at its very creation still leaves the phase a millisecond, so it ends after it starts).
INSERT INTO "Phase" ("id", "competitionId", "ordinal", "name", "startsAt", "endsAt", "data", "feedback", "ranked")
SELECT gen_random_uuid(), c."id", 1, 'Hidden test set', c."createdAt",
       CASE WHEN c."closedAt" IS NULL THEN NULL
            ELSE GREATEST(c."closedAt", c."createdAt" + interval '1 millisecond') END,
       'hidden', 'released', true
FROM "Competition" c;

-- AlterTable
ALTER TABLE "Submission" ADD COLUMN     "phaseId" UUID;

UPDATE "Submission" s SET "phaseId" = p."id"
FROM "Phase" p
WHERE p."competitionId" = s."competitionId" AND p."ordinal" = 1;

ALTER TABLE "Submission" ALTER COLUMN "phaseId" SET NOT NULL;

-- AlterTable
ALTER TABLE "QuotaReservation" ADD COLUMN     "phaseId" UUID;

UPDATE "QuotaReservation" r SET "phaseId" = p."id"
FROM "Team" t, "Phase" p
WHERE t."id" = r."teamId" AND p."competitionId" = t."competitionId" AND p."ordinal" = 1;

ALTER TABLE "QuotaReservation" ALTER COLUMN "phaseId" SET NOT NULL;

-- CreateIndex
CREATE INDEX "Submission_phaseId_state_idx" ON "Submission"("phaseId", "state");

-- CreateIndex
CREATE INDEX "Submission_teamId_phaseId_createdAt_idx" ON "Submission"("teamId", "phaseId", "createdAt");

-- AddForeignKey
ALTER TABLE "QuotaReservation" ADD CONSTRAINT "QuotaReservation_phaseId_fkey" FOREIGN KEY ("phaseId") REFERENCES "Phase"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Submission" ADD CONSTRAINT "Submission_phaseId_fkey" FOREIGN KEY ("phaseId") REFERENCES "Phase"("id") ON DELETE NO ACTION ON UPDATE CASCADE;
