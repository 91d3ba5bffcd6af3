import type { ProvenanceRecord, RunLimitsRecord } from "@holdout/db";
import type { GpuGrant, RunLimits } from "@holdout/sandbox";
import { SCORER_VERSION, type BootstrapOptions } from "@holdout/scorer";
import type { ScoredSet } from "./competition-sets.ts";
import type { Model } from "./phase.ts";

/** A GPU grant as the provenance names it: null for none, `all`, a count, or the device ids. */
function gpuText(gpu: GpuGrant | undefined): string | null {
  if (gpu === undefined) return null;
  if ("deviceIds" in gpu) return gpu.deviceIds.join(",");
  return gpu.count < 0 ? "all" : String(gpu.count);
}

/** The limits a run had; the network is always none (packages/sandbox never attaches one). */
export function limitsRecord(limits: RunLimits, gpu: GpuGrant | undefined): RunLimitsRecord {
  return {
    memoryBytes: limits.memoryBytes,
    cpus: limits.cpus,
    wallClockMs: limits.wallClockMs,
    outputBytes: limits.outputBytes,
    tmpBytes: limits.tmpBytes,
    pids: limits.pids,
    network: "none",
    gpu: gpuText(gpu),
  };
}

/** Which scorer, at which version and bootstrap, on which content: what a score and a re-score share. */
export function scoringProvenance(set: ScoredSet, bootstrap: BootstrapOptions) {
  return {
    scorer: set.testset.scorer.name,
    scorerVersion: SCORER_VERSION,
    bootstrap: { replicates: bootstrap.replicates, seed: bootstrap.seed },
    testsetSha256: set.sha256,
  };
}

/**
 * Everything recorded beside a score: the model that ran (the image's ID, or the runtime image for
 * a bundle), the upload's hash, the scoring, the worker, the limits and when each run went.
 */
export function provenanceOf(p: {
  model: Model;
  uploadSha256: string;
  scored: ScoredSet;
  onDev: boolean;
  bootstrap: BootstrapOptions;
  worker: string;
  limits: RunLimitsRecord;
  smoke: { limits: RunLimitsRecord; startedAt: Date; endedAt: Date } | null;
  run: { startedAt: Date; endedAt: Date };
}): ProvenanceRecord {
  return {
    imageId: p.model.imageId,
    runtimeImage: p.model.kind === "bundle" ? p.model.runtimeRef : null,
    uploadSha256: p.uploadSha256,
    ...scoringProvenance(p.scored, p.bootstrap),
    dataset: p.onDev ? "development" : "hidden",
    worker: p.worker,
    limits: p.limits,
    smokeLimits: p.smoke?.limits ?? null,
    smoke: p.smoke ? { startedAt: p.smoke.startedAt, endedAt: p.smoke.endedAt } : null,
    run: p.run,
  };
}
