import { describe, expect, it } from "vitest";
import { ConfigError } from "@holdout/contracts";
import { startWorker } from "../src/app.ts";
import { loadWorkerConfig, runLimits, smokeLimits, tarballLimits } from "../src/config.ts";
import { inWords } from "../src/processors/disk-wait.ts";
import { storedLog } from "../src/processors/log-policy.ts";

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

  it("has sandbox defaults: no GPU, all cores, a 2 KiB hidden-log tail, bounded archives", () => {
    const c = loadWorkerConfig(valid);
    expect(c.HOLDOUT_RUN_GPUS).toBeUndefined();
    expect(c.HOLDOUT_RUN_CPUSET).toBeUndefined();
    expect(c.HOLDOUT_IMAGE_ARCH).toBeUndefined();
    expect(c.HOLDOUT_HIDDEN_LOG_POLICY).toBe("none");
    expect(c.HOLDOUT_HIDDEN_LOG_TAIL_KB).toBe(2);
    expect(runLimits(c)).toMatchObject({ tmpBytes: 256 * 1024 * 1024, openFiles: 4096 });
    expect(tarballLimits(c)).toEqual({
      maxCompressedBytes: 16 * 1024 ** 3,
      maxUncompressedBytes: 32 * 1024 ** 3,
      maxLayers: 100,
      maxConfigBytes: 4 * 1024 ** 2,
      maxCompressionRatio: 100,
    });
    expect(
      tarballLimits(loadWorkerConfig({ ...valid, HOLDOUT_IMAGE_MAX_CONFIG_KB: "64" })).maxConfigBytes,
    ).toBe(64 * 1024);
  });

  it("parses CPU lists and GPU grants, always as explicit requests", () => {
    const c = loadWorkerConfig({ ...valid, HOLDOUT_RUN_CPUSET: "2-4,7", HOLDOUT_RUN_GPUS: "0,GPU-abc" });
    expect(c.HOLDOUT_RUN_CPUSET).toEqual([2, 3, 4, 7]);
    expect(c.HOLDOUT_RUN_GPUS).toEqual({ deviceIds: ["0", "GPU-abc"] });
    expect(loadWorkerConfig({ ...valid, HOLDOUT_RUN_GPUS: "all" }).HOLDOUT_RUN_GPUS).toEqual({ count: -1 });
  });

  it.each([
    [{ HOLDOUT_RUN_CPUSET: "3-1" }, /HOLDOUT_RUN_CPUSET: .*reversed/],
    [{ HOLDOUT_RUN_CPUSET: "a,b" }, /HOLDOUT_RUN_CPUSET: expected a CPU list/],
    [{ HOLDOUT_RUN_CPUSET: "0", HOLDOUT_RUN_CPUS: "2" }, /HOLDOUT_RUN_CPUSET: has fewer cores/],
    [{ HOLDOUT_RUN_TMP_MB: "4096" }, /HOLDOUT_RUN_TMP_MB: must be less than HOLDOUT_RUN_MEMORY_MB/],
    [{ HOLDOUT_HIDDEN_LOG_POLICY: "all" }, /HOLDOUT_HIDDEN_LOG_POLICY/],
    [{ HOLDOUT_RUN_GPUS: "0;rm" }, /HOLDOUT_RUN_GPUS/],
    [{ HOLDOUT_IMAGE_MAX_UNPACKED_MB: "10", HOLDOUT_IMAGE_MAX_MB: "20" }, /HOLDOUT_IMAGE_MAX_UNPACKED_MB/],
    [
      { HOLDOUT_HEARTBEAT_SECONDS: "10", HOLDOUT_HEARTBEAT_STALE_SECONDS: "20" },
      /HOLDOUT_HEARTBEAT_STALE_SECONDS: must be at least 3 heartbeats/,
    ],
    [{ HOLDOUT_BOOTSTRAP_SEED: "-1" }, /HOLDOUT_BOOTSTRAP_SEED/],
    [{ HOLDOUT_DISK_MIN_FREE_MB: "-1" }, /HOLDOUT_DISK_MIN_FREE_MB/],
    [{ HOLDOUT_DISK_MIN_FREE_MB: "lots" }, /HOLDOUT_DISK_MIN_FREE_MB/],
  ])("rejects %o", (env, message) => {
    expect(() => loadWorkerConfig({ ...valid, ...env })).toThrow(message);
  });
});

describe("pipeline settings", () => {
  it("serves every competition unless pinned to some by their slugs", () => {
    expect(loadWorkerConfig(valid).HOLDOUT_WORKER_COMPETITIONS).toBeUndefined();
    const c = loadWorkerConfig({ ...valid, HOLDOUT_WORKER_COMPETITIONS: "chexpert,triage-2027" });
    expect(c.HOLDOUT_WORKER_COMPETITIONS).toEqual(["chexpert", "triage-2027"]);
    expect(() => loadWorkerConfig({ ...valid, HOLDOUT_WORKER_COMPETITIONS: "chexpert, Triage" })).toThrow(
      /HOLDOUT_WORKER_COMPETITIONS: expected competition slugs separated by commas/,
    );
  });

  it("smoke runs, heartbeats and the reconciler have defaults that bound a stuck run to about a minute", () => {
    const c = loadWorkerConfig(valid);
    expect(c.HOLDOUT_DEVSET_DIR).toBeUndefined();
    expect(c.HOLDOUT_SMOKE_STUDIES).toBe(10);
    // Unset: the default runtime image if the engine has it (engine-checks.ts), never required.
    expect(c.HOLDOUT_RUNTIME_IMAGE).toBeUndefined();
    expect(c.HOLDOUT_DISK_MIN_FREE_MB).toBe(2048);
    // A submission no worker has room for fails after half an hour, not never.
    expect(c.HOLDOUT_DISK_WAIT_SECONDS).toBe(1800);
    expect(() => loadWorkerConfig({ ...valid, HOLDOUT_DISK_WAIT_SECONDS: "0" })).toThrow(
      /HOLDOUT_DISK_WAIT_SECONDS:/,
    );
    expect(c.HOLDOUT_HEARTBEAT_STALE_SECONDS + c.HOLDOUT_RECONCILE_INTERVAL_SECONDS).toBeLessThanOrEqual(120);
    expect(c.HOLDOUT_BOOTSTRAP_REPLICATES).toBe(2000);
  });

  it("the smoke run keeps the hidden run's limits with its own clock: at most 300 s, never more than the hidden run's", () => {
    const short = loadWorkerConfig({ ...valid, HOLDOUT_RUN_TIMEOUT_SECONDS: "60" });
    expect(smokeLimits(short)).toEqual({ ...runLimits(short), wallClockMs: 60_000 });
    expect(smokeLimits(loadWorkerConfig(valid)).wallClockMs).toBe(300_000);
    const own = loadWorkerConfig({ ...valid, HOLDOUT_SMOKE_TIMEOUT_SECONDS: "20" });
    expect(smokeLimits(own).wallClockMs).toBe(20_000);
  });
});

describe("a wait as a team reads it", () => {
  it("in whole seconds, minutes or hours, singular for one", () => {
    expect(inWords(1000)).toBe("1 second");
    expect(inWords(90_000)).toBe("90 seconds");
    expect(inWords(1800_000)).toBe("30 minutes");
    expect(inWords(5400_000)).toBe("90 minutes");
    expect(inWords(7200_000)).toBe("2 hours");
  });
});

describe("run log policy", () => {
  const log = Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n") + "\nTraceback: boom\n";

  it("tail keeps the end (the traceback), from a line start, and says so", () => {
    const stored = storedLog({ kind: "tail", bytes: 100 }, log, false);
    expect(stored.truncated).toBe(true);
    expect(stored.text).toMatch(
      /^\[holdout: only the last \d+ bytes of the hidden run's log are shown\]\nline \d+\n/,
    );
    expect(stored.text.endsWith("Traceback: boom\n")).toBe(true);
    expect(Buffer.byteLength(stored.text.split("\n").slice(1).join("\n"))).toBeLessThanOrEqual(100);
  });

  it("full (the smoke run's) keeps the log as the sandbox capped it", () => {
    expect(storedLog({ kind: "full" }, log, true)).toEqual({ text: log, truncated: true });
  });

  it("tail leaves a short log as it is; none shows nothing of it", () => {
    expect(storedLog({ kind: "tail", bytes: 4096 }, "short\n", false)).toEqual({
      text: "short\n",
      truncated: false,
    });
    const none = storedLog({ kind: "none" }, log, false);
    expect(none.text).not.toContain("line");
    // Withheld rather than cut: the page must not tell the team its log was long.
    expect(none.truncated).toBe(false);
  });
});
