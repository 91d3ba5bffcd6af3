import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, wherever the checkout lives. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

// Tests talk to the real services. scripts/setup.sh creates and migrates this database.
export const TEST_DATABASE_URL =
  process.env.HOLDOUT_TEST_DATABASE_URL ?? "postgresql://holdout:holdout@127.0.0.1:5432/holdout_test";
export const TEST_REDIS_URL = process.env.HOLDOUT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A digest of the generator's sources: a changed generator never reuses an old cached test set. */
function generatorDigest(): string {
  const dir = path.join(REPO_ROOT, "packages", "testset", "src");
  const hash = createHash("sha256");
  for (const name of readdirSync(dir).sort()) hash.update(name).update(readFileSync(path.join(dir, name)));
  return hash.digest("hex").slice(0, 12);
}

/** Shared, generated once per machine by the global setup: read-only for tests. */
export const TEST_TESTSET_DIR = path.join(os.tmpdir(), `holdout-test-testset-seed7-${generatorDigest()}`);
export const TEST_ARTIFACTS_DIR = path.join(os.tmpdir(), "holdout-test-artifacts");
export const BASELINE_IMAGE = "holdout/example-baseline:latest";
export const BASELINE_TARBALL = path.join(TEST_ARTIFACTS_DIR, "example-baseline.tar");
export const BASE_IMAGE = "holdout/base:bookworm";

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
