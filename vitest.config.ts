import { configDefaults, defineConfig } from "vitest/config";

// Projects: `unit` (pure code, no services), `integration` (the real PostgreSQL, Redis and
// Docker engine; its global setup prepares the shared synthetic test set and example tarball).
// `npm test` runs both, after scripts/setup.sh made sure the services and images exist.
const UNIT = [
  "packages/scorer/test/**/*.test.ts",
  "packages/testset/test/**/*.test.ts",
  "packages/contracts/test/**/*.test.ts",
  "packages/archive/test/**/*.test.ts",
  "apps/*/test/**/config.test.ts",
  "apps/worker/test/webhook-send.test.ts",
  "apps/worker/test/notify-payload.test.ts",
  "apps/api/test/coalesce.test.ts",
  "apps/api/test/lingering-close.test.ts",
  "apps/api/test/problems.test.ts",
  "apps/api/test/local-path.test.ts",
  "apps/api/test/text.test.ts",
  "apps/api/test/client-address.test.ts",
  "apps/api/test/queue-position.test.ts",
  "apps/api/test/layer-boundary.test.ts",
  "apps/cli/test/**/*.test.ts",
  "packages/db/test/migration-sql.test.ts",
  "packages/db/test/query-boundary.test.ts",
  "scripts/**/*.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 300_000,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "unit", include: UNIT } },
      {
        extends: true,
        test: {
          name: "integration",
          include: [
            "packages/db/test/**/*.test.ts",
            "packages/sandbox/test/**/*.test.ts",
            "tests/**/*.test.ts",
          ],
          exclude: [
            ...configDefaults.exclude,
            "tests/faults/**",
            "tests/system/compose.test.ts",
            "packages/db/test/migration-sql.test.ts",
            "packages/db/test/query-boundary.test.ts",
          ],
          globalSetup: ["tests/support/global-setup.ts"],
        },
      },
      {
        // Fault injection: real API/worker processes and private PostgreSQL, Redis and Docker
        // engines that the tests kill and restart (never the shared ones). One file at a time: each
        // runs a whole system, and a restart must not be slowed into a timeout by its neighbours.
        extends: true,
        test: {
          name: "faults",
          include: ["tests/faults/**/*.test.ts"],
          globalSetup: ["tests/support/global-setup.ts"],
          fileParallelism: false,
        },
      },
      {
        // The organizer guide's Compose deployment, run as written: builds the images locally,
        // brings a whole stack up under its own project name and ports, scores the example,
        // upgrades, restores and tears it down. Run alone with `npm run test:compose`.
        extends: true,
        test: { name: "compose", include: ["tests/system/compose.test.ts"] },
      },
    ],
  },
});
