-- CreateEnum
CREATE TYPE "AccountRole" AS ENUM ('organizer');

-- AlterTable
ALTER TABLE "ApiToken" ADD COLUMN     "accountId" UUID,
ALTER COLUMN "teamId" DROP NOT NULL;

-- AlterTable
ALTER TABLE "Competition" ADD COLUMN     "quotaPerDay" INTEGER NOT NULL DEFAULT 5,
ADD COLUMN     "quotaTotal" INTEGER NOT NULL DEFAULT 20,
ADD COLUMN     "registrationOpen" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "requireApproval" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "Submission" ADD COLUMN     "bundleDir" TEXT,
ADD COLUMN     "command" TEXT;

-- AlterTable
ALTER TABLE "Team" ADD COLUMN     "approved" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "contactEmail" TEXT,
ADD COLUMN     "passwordHash" TEXT,
ADD COLUMN     "termsAcceptedAt" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "Account" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "role" "AccountRole" NOT NULL DEFAULT 'organizer',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Account_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Session" (
    "id" UUID NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "teamId" UUID,
    "accountId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "lastUsedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "QuotaReservation" (
    "id" UUID NOT NULL,
    "teamId" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "QuotaReservation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Account_email_key" ON "Account"("email");

-- CreateIndex
CREATE UNIQUE INDEX "Session_tokenHash_key" ON "Session"("tokenHash");

-- CreateIndex
CREATE INDEX "QuotaReservation_teamId_expiresAt_idx" ON "QuotaReservation"("teamId", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Team_competitionId_contactEmail_key" ON "Team"("competitionId", "contactEmail");

-- AddForeignKey
ALTER TABLE "Session" ADD CONSTRAINT "Session_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Session" ADD CONSTRAINT "Session_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "QuotaReservation" ADD CONSTRAINT "QuotaReservation_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiToken" ADD CONSTRAINT "ApiToken_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Every credential belongs to exactly one principal: a team or an organizer account.
ALTER TABLE "ApiToken" ADD CONSTRAINT "ApiToken_one_owner" CHECK (num_nonnulls("teamId", "accountId") = 1);
ALTER TABLE "Session" ADD CONSTRAINT "Session_one_owner" CHECK (num_nonnulls("teamId", "accountId") = 1);

-- Quotas are counts: a negative one is a typo, not a setting.
ALTER TABLE "Competition" ADD CONSTRAINT "Competition_quota_positive" CHECK ("quotaPerDay" >= 0 AND "quotaTotal" >= 0);
