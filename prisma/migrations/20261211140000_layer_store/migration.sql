-- CreateTable
CREATE TABLE "TeamLayer" (
    "teamId" UUID NOT NULL,
    "digest" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TeamLayer_pkey" PRIMARY KEY ("teamId","digest")
);

-- CreateIndex
CREATE INDEX "TeamLayer_lastUsedAt_idx" ON "TeamLayer"("lastUsedAt");

-- AddForeignKey
ALTER TABLE "TeamLayer" ADD CONSTRAINT "TeamLayer_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A digest is always `sha256:` and 64 lowercase hex digits: the store's file names are made of it.
ALTER TABLE "TeamLayer" ADD CONSTRAINT "TeamLayer_digest_check" CHECK ("digest" ~ '^sha256:[0-9a-f]{64}$');
