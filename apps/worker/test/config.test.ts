import { describe, expect, it } from "vitest";
import { ConfigError } from "@holdout/contracts";
import { startWorker } from "../src/app.ts";
import { loadWorkerConfig, runLimits } from "../src/config.ts";

const valid = {
  DATABASE_URL: "postgres://u@127.0.0.1/db",
  REDIS_URL: "redis://127.0.0.1:6379",
  HOLDOUT_DATA_DIR: "/var/lib/holdout",
  HOLDOUT_TESTSET_DIR: "/srv/testset",
};

describe("worker configuration", () => {
  it("turns the limits into bytes and milliseconds", () => {
    const c = loadWorkerConfig({ ...valid, HOLDOUT_RUN_MEMORY_MB: "512", HOLDOUT_RUN_TIMEOUT_SECONDS: "60" });
    expect(runLimits(c)).toMatchObject({ memoryBytes: 512 * 1024 * 1024, wallClockMs: 60_000, cpus: 1 });
    expect(c.HOLDOUT_WORKER_CONCURRENCY).toBe(1);
  });

  it("rejects a missing test set and nonsense limits, naming them", () => {
    expect(() =>
      loadWorkerConfig({ ...valid, HOLDOUT_TESTSET_DIR: undefined, HOLDOUT_RUN_PIDS: "-3" }),
    ).toThrow(ConfigError);
    try {
      loadWorkerConfig({ ...valid, HOLDOUT_TESTSET_DIR: undefined, HOLDOUT_RUN_PIDS: "-3" });
    } catch (e) {
      expect((e as Error).message).toMatch(/HOLDOUT_TESTSET_DIR: is required/);
      expect((e as Error).message).toMatch(/HOLDOUT_RUN_PIDS:/);
    }
  });

  it("refuses to start on a missing test set, naming the variable, before touching any service", async () => {
    const config = loadWorkerConfig({ ...valid, HOLDOUT_TESTSET_DIR: "/nonexistent/testset" });
    await expect(startWorker(config)).rejects.toThrow(
      /HOLDOUT_TESTSET_DIR: cannot read \/nonexistent\/testset\/testset.json/,
    );
  });
});
