import type { findSubmission } from "@holdout/db";
import type { SubmissionView } from "../schemas.ts";
import { interval } from "./leaderboard.ts";

type SubmissionRow = NonNullable<Awaited<ReturnType<typeof findSubmission>>>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function submissionUrl(id: string): string {
  return `/api/v1/submissions/${id}`;
}

/** The owner's view of a submission. */
export function ownerView(s: SubmissionRow): SubmissionView {
  const self = submissionUrl(s.id);
  return {
    id: s.id,
    team: s.team.name,
    model: s.modelName,
    description: s.description,
    link: s.link,
    ensemble: s.ensemble,
    kind: s.kind,
    command: s.command,
    hidden: s.hidden,
    state: s.state,
    failure:
      s.failureCategory !== null ? { category: s.failureCategory, message: s.failureMessage ?? "" } : null,
    upload: { size: Number(s.uploadSize), sha256: s.uploadSha256 },
    image:
      s.imageDigest !== null && s.imageSize !== null
        ? { digest: s.imageDigest, size: Number(s.imageSize) }
        : null,
    meanAuc: s.meanAuc,
    meanAuc95: interval(s.meanAucLo, s.meanAucHi),
    meanRadsBelowCurve: s.meanRadsBelowCurve,
    tasks: scoredTasks(s.results),
    createdAt: s.createdAt.toISOString(),
    queuedAt: iso(s.queuedAt),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    links: { self, log: `${self}/log`, events: `${self}/events`, curves: `${self}/curves` },
  };
}

/** Each task's AUC with its 95% interval, and the radiologists below its curve. */
export function scoredTasks(results: SubmissionRow["results"]): SubmissionView["tasks"] {
  return results.map((r) => ({
    task: r.task,
    auc: r.auc,
    auc95: interval(r.aucLo, r.aucHi),
    radsBelowCurve: r.radsBelowCurve,
  }));
}
