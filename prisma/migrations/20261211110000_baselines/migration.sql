-- Baselines: a team flagged `baseline` is an organizer's entrant (the official CheXpert board listed
-- "Stanford Baseline"). Nobody signs in as it: it has no email and no password, so only organizers
-- read its submissions whole. Its entries are ranked like any other but never lead for tie marks.
ALTER TABLE "Team" ADD COLUMN "baseline" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "Team" ADD CONSTRAINT "Team_baseline_no_login"
  CHECK (NOT "baseline" OR ("contactEmail" IS NULL AND "passwordHash" IS NULL));
