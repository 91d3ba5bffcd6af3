-- CreateEnum
CREATE TYPE "RunPhase" AS ENUM ('smoke', 'hidden');

-- AlterTable
ALTER TABLE "Submission" ADD COLUMN     "cancelRequestedAt" TIMESTAMPTZ(3),
ADD COLUMN     "disqualified" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "disqualifiedReason" TEXT,
ADD COLUMN     "failedPhase" "RunPhase",
ADD COLUMN     "heartbeatAt" TIMESTAMPTZ(3),
ADD COLUMN     "meanAucHi" DOUBLE PRECISION,
ADD COLUMN     "meanAucLo" DOUBLE PRECISION,
ADD COLUMN     "refunded" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "smokePassedAt" TIMESTAMPTZ(3),
ADD COLUMN     "tiedWithLeader" BOOLEAN,
ADD COLUMN     "worker" TEXT;

-- AlterTable
ALTER TABLE "TaskResult" ADD COLUMN     "aucHi" DOUBLE PRECISION,
ADD COLUMN     "aucLo" DOUBLE PRECISION,
ADD COLUMN     "curves" JSONB;

-- AlterTable
ALTER TABLE "SubmissionLog" DROP CONSTRAINT "SubmissionLog_pkey",
ADD COLUMN     "phase" "RunPhase" NOT NULL DEFAULT 'hidden',
ADD CONSTRAINT "SubmissionLog_pkey" PRIMARY KEY ("submissionId", "phase");

-- CreateTable
CREATE TABLE "SubmissionPredictions" (
    "submissionId" UUID NOT NULL,
    "csv" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SubmissionPredictions_pkey" PRIMARY KEY ("submissionId")
);

-- CreateTable
CREATE TABLE "WorkerHeartbeat" (
    "name" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "concurrency" INTEGER NOT NULL,
    "running" INTEGER NOT NULL DEFAULT 0,
    "startedAt" TIMESTAMPTZ(3) NOT NULL,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "WorkerHeartbeat_pkey" PRIMARY KEY ("name")
);

-- AddForeignKey
ALTER TABLE "SubmissionPredictions" ADD CONSTRAINT "SubmissionPredictions_submissionId_fkey" FOREIGN KEY ("submissionId") REFERENCES "Submission"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Infrastructure failures were never charged: say so in the new column.
UPDATE "Submission" SET "refunded" = true WHERE "state" = 'failed' AND "failureCategory" = 'infrastructure';
