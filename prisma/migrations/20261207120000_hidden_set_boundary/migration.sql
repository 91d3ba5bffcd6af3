-- CreateEnum
CREATE TYPE "CompetitionState" AS ENUM ('open', 'closed');

-- CreateEnum
CREATE TYPE "ScorePart" AS ENUM ('public', 'private');

-- AlterTable
ALTER TABLE "Competition" ADD COLUMN     "aucDecimals" INTEGER NOT NULL DEFAULT 3,
ADD COLUMN     "closedAt" TIMESTAMPTZ(3),
ADD COLUMN     "closedBy" TEXT,
ADD COLUMN     "ladder" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "radsDecimals" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "splitFraction" DOUBLE PRECISION,
ADD COLUMN     "splitSeed" INTEGER,
ADD COLUMN     "state" "CompetitionState" NOT NULL DEFAULT 'open';

-- AlterTable
ALTER TABLE "Submission" ADD COLUMN     "failureDetail" TEXT,
ADD COLUMN     "ladderImproved" BOOLEAN,
ADD COLUMN     "selectedFinal" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "SubmissionLog" ADD COLUMN     "fullText" TEXT;

-- CreateTable
CREATE TABLE "SubmissionPartScore" (
    "submissionId" UUID NOT NULL,
    "part" "ScorePart" NOT NULL,
    "meanAuc" DOUBLE PRECISION NOT NULL,
    "meanRadsBelowCurve" DOUBLE PRECISION NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "meanAucLo" DOUBLE PRECISION,
    "meanAucHi" DOUBLE PRECISION,
    "tiedWithLeader" BOOLEAN,
    "tasks" JSONB NOT NULL,

    CONSTRAINT "SubmissionPartScore_pkey" PRIMARY KEY ("submissionId","part")
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" BIGSERIAL NOT NULL,
    "competitionId" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "targetType" TEXT,
    "targetId" TEXT,
    "detail" TEXT,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "AuditEvent_competitionId_id_idx" ON "AuditEvent"("competitionId", "id");

-- AddForeignKey
ALTER TABLE "SubmissionPartScore" ADD CONSTRAINT "SubmissionPartScore_submissionId_fkey" FOREIGN KEY ("submissionId") REFERENCES "Submission"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditEvent" ADD CONSTRAINT "AuditEvent_competitionId_fkey" FOREIGN KEY ("competitionId") REFERENCES "Competition"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Existing rows, brought under the hidden set's boundary. A failure of the hidden run told the team
-- the worker's message (it could echo what the model wrote): organizers keep it, the team and the
-- timeline get a fixed sentence. The timeline's "scored" events carried the mean AUC to 4 decimals.
-- A semicolon inside a string is written chr(59): Prisma's engine splits a migration into
-- statements at every semicolon, quoted or not.
UPDATE "Submission"
SET "failureDetail" = "failureMessage",
    "failureMessage" = 'the run failed on the hidden test set' || chr(59) || ' its detail is kept for the organizers, as nothing about the hidden run is shown'
WHERE "failedPhase" = 'hidden' AND "failureCategory" <> 'infrastructure' AND "failureMessage" IS NOT NULL;

UPDATE "SubmissionEvent" e
SET detail = s."failureCategory"::text || ': ' || s."failureMessage"
FROM "Submission" s
WHERE e."submissionId" = s.id AND e.state = 'failed' AND s."failedPhase" = 'hidden'
  AND s."failureCategory" <> 'infrastructure';

UPDATE "SubmissionEvent"
SET detail = 'scored on the hidden test set' || chr(59) || ' the scores are on the submission'
WHERE state = 'scored' AND detail LIKE 'mean AUC %';

UPDATE "SubmissionEvent"
SET detail = regexp_replace(detail, ': mean AUC .*$', '')
WHERE state = 'scored' AND detail LIKE 're-scored by %: mean AUC %';
