-- The competition page: its prose, the limits each worker applies, and the runtime images' packages.
ALTER TABLE "Competition" ADD COLUMN "pageOverview" TEXT,
ADD COLUMN "pageData" TEXT,
ADD COLUMN "pageRules" TEXT;

ALTER TABLE "WorkerHeartbeat" ADD COLUMN "limits" JSONB,
ADD COLUMN "runtimeImageId" TEXT;

CREATE TABLE "RuntimeImage" (
    "imageId" TEXT NOT NULL,
    "ref" TEXT NOT NULL,
    "packages" JSONB NOT NULL,
    "listedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "RuntimeImage_pkey" PRIMARY KEY ("imageId")
);

CREATE INDEX "RuntimeImage_ref_listedAt_idx" ON "RuntimeImage"("ref", "listedAt");
