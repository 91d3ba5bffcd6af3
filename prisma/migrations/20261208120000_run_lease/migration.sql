-- AlterTable
ALTER TABLE "Submission" ADD COLUMN     "leaseExpiresAt" TIMESTAMPTZ(3),
ADD COLUMN     "leaseToken" UUID;
