import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, wherever the checkout lives. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

// Tests talk to the real services. scripts/setup.sh creates and migrates this database.
export const TEST_DATABASE_URL =
  process.env.HOLDOUT_TEST_DATABASE_URL ?? "postgresql://holdout:holdout@127.0.0.1:5432/holdout_test";
export const TEST_REDIS_URL = process.env.HOLDOUT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Shared, generated once per machine by the global setup: read-only for tests. */
export const TEST_TESTSET_DIR = path.join(os.tmpdir(), "holdout-test-testset-v1-seed7");
export const TEST_ARTIFACTS_DIR = path.join(os.tmpdir(), "holdout-test-artifacts");
export const BASELINE_IMAGE = "holdout/example-baseline:latest";
export const BASELINE_TARBALL = path.join(TEST_ARTIFACTS_DIR, "example-baseline.tar");
export const BASE_IMAGE = "holdout/base:bookworm";

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
