import { defineConfig } from "vitest/config";

// One suite: unit tests (pure code) and integration tests against the real PostgreSQL, Redis and
// Docker engine. `npm test` runs scripts/setup.sh first, which makes sure those services, the
// migrated test database and the locally built images exist.
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    globalSetup: ["tests/support/global-setup.ts"],
    maxWorkers: 2,
    reporters: ["default"],
  },
});
