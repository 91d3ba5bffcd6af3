import { formatBytes } from "@holdout/contracts";
import type { ProvenanceView, RunLimitsView, ScoreRevisionView } from "@holdout/contracts/http";
import { formatDateTime, formatDuration } from "./format.ts";

function limitsText(l: RunLimitsView): string {
  return [
    `memory ${formatBytes(l.memoryBytes)}`,
    `${l.cpus} CPU${l.cpus === 1 ? "" : "s"}`,
    `time ${formatDuration(l.wallClockMs)}`,
    `output ${formatBytes(l.outputBytes)}`,
    `/tmp ${formatBytes(l.tmpBytes)}`,
    `${l.pids} processes`,
    `network ${l.network}`,
    `GPU ${l.gpu ?? "none"}`,
  ].join(", ");
}

function spanText(span: { startedAt: string; endedAt: string }): string {
  const ms = Date.parse(span.endedAt) - Date.parse(span.startedAt);
  return `${formatDateTime(span.startedAt)} to ${formatDateTime(span.endedAt)} (${formatDuration(ms)})`;
}

/** The provenance as the submission page lists it (its team and organizers); null: not recorded. */
export function provenanceFacts(p: ProvenanceView | null, kind: "image" | "bundle") {
  if (!p) return null;
  return {
    model:
      kind === "bundle"
        ? `runtime image ${p.runtimeImage ?? "–"}, ID ${p.imageId}`
        : `image ID (config digest) ${p.imageId}`,
    uploadSha256: p.uploadSha256,
    scorer: `${p.scorer}, version ${p.scorerVersion}; bootstrap ${p.bootstrap.replicates} replicates, seed ${p.bootstrap.seed}`,
    dataset: p.dataset === "development" ? "Development set" : "Hidden test set",
    testsetSha256: p.testsetSha256,
    worker: p.worker,
    limits: limitsText(p.limits),
    smokeLimits: p.smokeLimits ? limitsText(p.smokeLimits) : null,
    smokeRun: p.smokeRun ? spanText(p.smokeRun) : null,
    run: spanText(p.run),
    recordedAt: formatDateTime(p.recordedAt),
    testsetChanged: p.testsetChanged
      ? { foundAt: formatDateTime(p.testsetChanged.foundAt), currentSha256: p.testsetChanged.currentSha256 }
      : null,
  };
}

const meanOf = (figures: unknown) => {
  const v = (figures as { meanAuc?: unknown } | null)?.meanAuc;
  return typeof v === "number" ? String(v) : "–";
};

/** The re-scores, for organizers: when, who, the mean AUC before and after, and the sets' hashes. */
export function revisionRows(revisions: ScoreRevisionView[] | undefined) {
  return (revisions ?? []).map((r) => ({
    at: formatDateTime(r.at),
    actor: r.actor,
    before: meanOf(r.previous),
    after: meanOf(r.next),
    previousTestsetSha256: r.previousTestsetSha256 ?? "not recorded",
    testsetSha256: r.testsetSha256 ?? "–",
  }));
}
