-- Provenance per score (what ran, on which set's content, scored by what, where, under which limits, when)
-- and the re-scores' before and after. Submissions scored before this have no provenance row: "not recorded".
-- CreateTable
CREATE TABLE "ScoreProvenance" (
    "submissionId" UUID NOT NULL,
    "imageId" TEXT NOT NULL,
    "runtimeImage" TEXT,
    "uploadSha256" TEXT NOT NULL,
    "scorer" TEXT NOT NULL,
    "scorerVersion" TEXT NOT NULL,
    "bootstrapReplicates" INTEGER NOT NULL,
    "bootstrapSeed" BIGINT NOT NULL,
    "dataset" TEXT NOT NULL,
    "testsetSha256" TEXT NOT NULL,
    "worker" TEXT NOT NULL,
    "limits" JSONB NOT NULL,
    "smokeLimits" JSONB,
    "smokeStartedAt" TIMESTAMPTZ(3),
    "smokeEndedAt" TIMESTAMPTZ(3),
    "runStartedAt" TIMESTAMPTZ(3) NOT NULL,
    "runEndedAt" TIMESTAMPTZ(3) NOT NULL,
    "recordedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "testsetChangedAt" TIMESTAMPTZ(3),
    "currentTestsetSha256" TEXT,

    CONSTRAINT "ScoreProvenance_pkey" PRIMARY KEY ("submissionId")
);

-- CreateTable
CREATE TABLE "ScoreRevision" (
    "id" BIGSERIAL NOT NULL,
    "submissionId" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "previous" JSONB NOT NULL,
    "next" JSONB NOT NULL,
    "previousTestsetSha256" TEXT,
    "testsetSha256" TEXT,

    CONSTRAINT "ScoreRevision_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ScoreRevision_submissionId_id_idx" ON "ScoreRevision"("submissionId", "id");

-- AddForeignKey
ALTER TABLE "ScoreProvenance" ADD CONSTRAINT "ScoreProvenance_submissionId_fkey" FOREIGN KEY ("submissionId") REFERENCES "Submission"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScoreRevision" ADD CONSTRAINT "ScoreRevision_submissionId_fkey" FOREIGN KEY ("submissionId") REFERENCES "Submission"("id") ON DELETE CASCADE ON UPDATE CASCADE;

