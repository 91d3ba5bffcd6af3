import {
  findScoreProvenance,
  listScoreRevisions,
  type Db,
  type findSubmission,
  type Principal,
} from "@holdout/db";
import { LOG_CUT_MARK, logKept, type LogKept } from "@holdout/contracts";
import type {
  ProvenanceView,
  PublicSubmission,
  RunLimitsView,
  ScoreRevisionView,
  SubmissionView,
} from "@holdout/contracts/http";
import {
  fullScores,
  partScores,
  released,
  shownScores,
  type Release,
  type Scores,
  type ScoredRow,
} from "./release.ts";

type SubmissionRow = NonNullable<Awaited<ReturnType<typeof findSubmission>>>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A submission's URL under the API scope it was asked through (the default's `/api/v1`, or a competition's). */
export function submissionUrl(id: string, apiBase = "/api/v1"): string {
  return `${apiBase}/submissions/${id}`;
}

/**
 * The one visibility rule. Owner and organizers see a submission whole; anyone else sees the
 * leaderboard fields of a listed entry and nothing at all of the rest (404, not 403: the id's
 * existence is private too).
 */
export function canSeeWhole(principal: Principal | null, s: { teamId: string }): boolean {
  return principal !== null && (principal.role === "organizer" || principal.team.id === s.teamId);
}

/** Who reads a view and under which rules: organizers also get the stored figures. */
export interface ViewContext {
  release: Release;
  organizer: boolean;
  /** The API scope the view is served under; default the top-level `/api/v1`. */
  apiBase?: string;
}

export const LADDER_NOT_IMPROVED =
  "no significant improvement on your team's best released score (paired bootstrap, 5% level): nothing new is released for this submission";
export const LADDER_IMPROVED = "a significant improvement on your team's best released score: released";

const withoutScore = ({ score: _score, ...rest }: Scores) => rest;

/** The released scores of a submission (rounded), with what the ladder decided. */
export function releasedView(s: ScoredRow, release: Release) {
  const shown = shownScores(s, release);
  const board = shown.board ? withoutScore(released(shown.board, release)) : null;
  return {
    meanAuc: board?.meanAuc ?? null,
    meanAuc95: board?.meanAuc95 ?? null,
    meanRadsBelowCurve: board?.meanRadsBelowCurve ?? null,
    tasks: board?.tasks ?? [],
    privatePart: shown.privatePart ? withoutScore(released(shown.privatePart, release)) : null,
    ladder:
      s.ladderImproved === null
        ? null
        : { improved: s.ladderImproved, note: s.ladderImproved ? LADDER_IMPROVED : LADDER_NOT_IMPROVED },
  };
}

/** The team's (and organizers') view of a submission. */
export function ownerView(s: SubmissionRow, ctx: ViewContext): SubmissionView {
  const self = submissionUrl(s.id, ctx.apiBase);
  const scores = releasedView(s, ctx.release);
  return {
    id: s.id,
    team: s.team.name,
    baseline: s.team.baseline,
    model: s.modelName,
    description: s.description,
    link: s.link,
    ensemble: s.ensemble,
    kind: s.kind,
    command: s.command,
    hidden: s.hidden,
    state: s.state,
    failure:
      s.failureCategory !== null
        ? {
            category: s.failureCategory,
            message: s.failureMessage ?? "",
            ...(ctx.organizer && s.failureDetail !== null ? { detail: s.failureDetail } : {}),
          }
        : null,
    upload: { size: Number(s.uploadSize), sha256: s.uploadSha256 },
    image:
      s.imageDigest !== null && s.imageSize !== null
        ? { digest: s.imageDigest, size: Number(s.imageSize) }
        : null,
    meanAuc: scores.meanAuc,
    meanAuc95: scores.meanAuc95,
    meanRadsBelowCurve: scores.meanRadsBelowCurve,
    tasks: scores.tasks,
    precision: { auc: ctx.release.aucDecimals, rads: ctx.release.radsDecimals },
    privatePart: scores.privatePart,
    final: s.selectedFinal,
    ladder: scores.ladder,
    ...(ctx.organizer
      ? {
          organizer: {
            full: fullScores(s),
            publicPart: partScores(s, "public"),
            privatePart: partScores(s, "private"),
            ladderImproved: s.ladderImproved,
          },
        }
      : {}),
    createdAt: s.createdAt.toISOString(),
    queuedAt: iso(s.queuedAt),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    links: { self, log: `${self}/log`, events: `${self}/events`, curves: `${self}/curves` },
  };
}

/** What anyone may read of a listed entry: the leaderboard's fields, released. */
export function publicView(s: SubmissionRow, release: Release): PublicSubmission {
  const scores = releasedView(s, release);
  return {
    id: s.id,
    team: s.team.name,
    baseline: s.team.baseline,
    model: s.modelName,
    link: s.link,
    ensemble: s.ensemble,
    meanAuc: scores.meanAuc ?? 0,
    meanAuc95: scores.meanAuc95,
    meanRadsBelowCurve: scores.meanRadsBelowCurve ?? 0,
    tasks: scores.tasks,
    privatePart: scores.privatePart,
    createdAt: s.createdAt.toISOString(),
  };
}

/** A run's log as one reader gets it: its text, whether it was cut, and what of it is kept. */
export interface ReadableLog {
  text: string;
  truncated: boolean;
  kept: LogKept;
}

/**
 * Which of a stored log's texts a reader gets. Organizers read the whole captured log (`fullText`,
 * kept when the team's text is less than that), which the sandbox's size cap may still have cut
 * around its mark; the team reads what the competition's log policy left. No log yet: empty.
 */
export function readableLog(
  log: { text: string; truncated: boolean; fullText: string | null } | null,
  organizer: boolean,
): ReadableLog {
  if (!log) return { text: "", truncated: false, kept: "whole" };
  if (organizer && log.fullText !== null) {
    // The worker did not record whether the captured log was cut: its mark says so (a model that
    // prints the mark itself only changes the note organizers read above its own log).
    const truncated = log.fullText.includes(LOG_CUT_MARK);
    return { text: log.fullText, truncated, kept: logKept(log.fullText, truncated) };
  }
  return { text: log.text, truncated: log.truncated, kept: logKept(log.text, log.truncated) };
}

type ProvenanceRow = NonNullable<Awaited<ReturnType<typeof findScoreProvenance>>>;

function limitsOf(json: unknown): RunLimitsView | null {
  return json !== null && typeof json === "object" ? (json as RunLimitsView) : null;
}

/** A score's provenance as its team and the organizers read it. */
export function provenanceView(p: ProvenanceRow): ProvenanceView {
  const limits = limitsOf(p.limits);
  if (!limits) throw new Error(`submission ${p.submissionId}: its provenance has no limits`);
  return {
    imageId: p.imageId,
    runtimeImage: p.runtimeImage,
    uploadSha256: p.uploadSha256,
    scorer: p.scorer,
    scorerVersion: p.scorerVersion,
    bootstrap: { replicates: p.bootstrapReplicates, seed: Number(p.bootstrapSeed) },
    dataset: p.dataset,
    testsetSha256: p.testsetSha256,
    worker: p.worker,
    limits,
    smokeLimits: limitsOf(p.smokeLimits),
    smokeRun:
      p.smokeStartedAt && p.smokeEndedAt
        ? { startedAt: p.smokeStartedAt.toISOString(), endedAt: p.smokeEndedAt.toISOString() }
        : null,
    run: { startedAt: p.runStartedAt.toISOString(), endedAt: p.runEndedAt.toISOString() },
    recordedAt: p.recordedAt.toISOString(),
    testsetChanged:
      p.testsetChangedAt && p.currentTestsetSha256
        ? { foundAt: p.testsetChangedAt.toISOString(), currentSha256: p.currentTestsetSha256 }
        : null,
  };
}

/**
 * What the submission's whole view adds about its score's origin: the provenance for its team and
 * the organizers (the caller has checked canSeeWhole), and the re-scores' full-precision figures for
 * organizers only (a team reading them would hold an unrounded AUC: an oracle on the hidden set).
 */
export async function originOf(
  db: Db,
  submissionId: string,
  organizer: boolean,
): Promise<{ provenance: ProvenanceView | null; scoreRevisions?: ScoreRevisionView[] }> {
  const [p, revisions] = await Promise.all([
    findScoreProvenance(db, submissionId),
    organizer ? listScoreRevisions(db, submissionId) : Promise.resolve(null),
  ]);
  return {
    provenance: p ? provenanceView(p) : null,
    ...(revisions
      ? {
          scoreRevisions: revisions.map((r) => ({
            at: r.at.toISOString(),
            actor: r.actor,
            previous: r.previous,
            next: r.next,
            previousTestsetSha256: r.previousTestsetSha256,
            testsetSha256: r.testsetSha256,
          })),
        }
      : {}),
  };
}
