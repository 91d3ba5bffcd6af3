// What `holdout audit` (apps/cli) re-computes a stored score with: the very functions the worker
// scored it with, so "bit-identical" compares one code path with itself, not with a copy. Pure
// computation and the labels' loader only: nothing here talks to Docker, Redis or the database.
export { loadHiddenTestset, type HiddenTestset } from "./hidden-testset.ts";
export { scoreRecord, splitOf } from "./scores.ts";
