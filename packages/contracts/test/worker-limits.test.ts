import { describe, expect, it } from "vitest";
import { workerLimitsOf, type WorkerLimits } from "../src/worker-limits.ts";

const LIMITS: WorkerLimits = {
  memoryMb: 4096,
  cpus: 1.5,
  timeoutSeconds: 1800,
  smokeTimeoutSeconds: 300,
  outputMb: 64,
  tmpMb: 256,
  pids: 256,
  openFiles: 4096,
  network: "none",
  gpus: 2,
  imageMaxMb: 16384,
  imageMaxUnpackedMb: 32768,
  imageMaxLayers: 100,
  architecture: null,
  hiddenLog: "none",
  competitions: ["chexpert"],
};

describe("a heartbeat's stored limits", () => {
  it("reads back what a worker wrote, and nothing else", () => {
    expect(workerLimitsOf(JSON.parse(JSON.stringify({ ...LIMITS, secret: "x" })))).toEqual(LIMITS);
  });

  it("refuses a row of another shape (an older worker, a hand edit) rather than show wrong limits", () => {
    expect(workerLimitsOf(null)).toBeNull();
    expect(workerLimitsOf({ ...LIMITS, memoryMb: "4096" })).toBeNull();
    expect(workerLimitsOf({ ...LIMITS, gpus: 0 })).toBeNull();
    expect(workerLimitsOf({ ...LIMITS, hiddenLog: "all" })).toBeNull();
    expect(workerLimitsOf({ ...LIMITS, competitions: [1] })).toBeNull();
  });

  it("always says network none, whatever the row claims", () => {
    expect(workerLimitsOf({ ...LIMITS, network: "bridge" })?.network).toBe("none");
  });
});
