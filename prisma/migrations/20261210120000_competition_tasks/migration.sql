-- The label columns shown on the leaderboard of a competition, copied from the manifest of its test set at
-- creation. Every competition so far is a CheXpert one, scored on the five official tasks.
ALTER TABLE "Competition" ADD COLUMN "tasks" TEXT[] NOT NULL DEFAULT ARRAY['Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion']::TEXT[];
