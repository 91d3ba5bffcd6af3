-- Scores an audit found computed on an earlier version of their test set (until re-scored): the
-- leaderboard marks them, and its fingerprint counts them on every read. They are few, so a partial
-- index finds them without reading every score's provenance.
CREATE INDEX "ScoreProvenance_earlierTestset_idx" ON "ScoreProvenance" ("submissionId") WHERE "testsetChangedAt" IS NOT NULL;
