import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import {
  explainFailure,
  formatBytes,
  isFinalState,
  logKeptNote,
  type FailureCategory,
  type SubmissionState,
} from "@holdout/contracts";
import {
  findSubmission,
  listSubmissionEvents,
  listSubmissionLogs,
  setSubmissionHidden,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { auditOf } from "../plugins/auth.ts";
import { UUID } from "../schemas/common.ts";
import { curvesOf, pairsOf, type PlotData } from "../services/curves.ts";
import type { LeaderboardSource } from "../services/leaderboard.ts";
import type { OrganizerService } from "../services/organizer.ts";
import { queueEstimateOf } from "../services/queue-position.ts";
import {
  currentRelease,
  formatAuc,
  formatInterval,
  formatRads,
  isPublicEntry,
  listedOnBoard,
  type Release,
} from "../services/release.ts";
import { canSeeWhole, originOf, readableLog, releasedView } from "../services/submission-view.ts";
import { codeSegments, formatDateTime, localPath, safeHref, STATE_LABELS } from "./format.ts";
import { legendMarkerSvg, prSvg, rocSvg } from "./plots.ts";
import { provenanceFacts, revisionRows } from "./provenance-facts.ts";
import { quotaSummary } from "./quota-summary.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

type SubmissionRow = NonNullable<Awaited<ReturnType<typeof findSubmission>>>;

function explained(category: FailureCategory) {
  const e = explainFailure(category);
  return { title: e.title, what: codeSegments(e.what), next: codeSegments(e.next) };
}

/**
 * The per-task table at the released precision, and the hidden-set plots when they may be shown:
 * always to organizers, to everyone who may see the entry once the competition has closed, never
 * to a team while it is open (a curve's vertices spell out the labels).
 */
function taskRows(s: SubmissionRow, release: Release, withPlots: boolean) {
  const shown = releasedView(s, release);
  const stored = new Map(s.results.map((r) => [r.task, r]));
  return shown.tasks.map((t, i) => {
    const r = stored.get(t.task);
    const curves = curvesOf(r?.curves);
    const plot: PlotData = {
      task: t.task,
      auc: t.auc,
      radsBelowCurve: t.radsBelowCurve,
      roc: pairsOf(r?.roc) ?? [],
      ...curves,
    };
    return {
      task: t.task,
      auc: formatAuc(t.auc, release),
      ci: formatInterval(t.auc95, release),
      rads: t.radsBelowCurve,
      readers: curves.readers.length,
      plot: withPlots
        ? {
            roc: rocSvg(plot, `plot-roc-${i}`),
            pr: prSvg(plot, `plot-pr-${i}`),
            points: [
              ...curves.readers.map((p) => ({ label: `Radiologist ${p.id}`, ...p })),
              ...(curves.majority ? [{ label: "Majority vote", ...curves.majority }] : []),
            ].map((p) => ({
              label: p.label,
              sensitivity: p.sensitivity.toFixed(3),
              specificity: (1 - p.fpr).toFixed(3),
              precision: p.precision === null ? "–" : p.precision.toFixed(3),
            })),
          }
        : null,
    };
  });
}

/** Everything the submission page shows its team (and organizers). */
async function ownerData(db: Db, s: SubmissionRow, organizer: boolean) {
  const [events, logs, queue, origin] = await Promise.all([
    listSubmissionEvents(db, s.id),
    listSubmissionLogs(db, s.id),
    queueEstimateOf(db, s),
    originOf(db, s.id, organizer),
  ]);
  const state: SubmissionState = s.state;
  const failure = s.failureCategory
    ? {
        category: s.failureCategory,
        ...explained(s.failureCategory),
        message: s.failureMessage,
        // The failure as the worker saw it (a hidden run's, withheld from the team): organizers only.
        detail: organizer ? s.failureDetail : null,
        phase: s.failedPhase,
        refunded: s.refunded,
      }
    : null;
  return {
    whole: true,
    final: isFinalState(state),
    position: queue.position,
    estimatedStartAt: queue.estimatedStartAt,
    estimatedStartText: queue.estimatedStartAt ? formatDateTime(queue.estimatedStartAt) : null,
    events: events.map((e) => ({
      id: e.id.toString(),
      at: e.at.toISOString(),
      atText: formatDateTime(e.at),
      state: e.state,
      stateLabel: STATE_LABELS[e.state],
      worker: e.worker,
      detail: e.detail,
    })),
    failure,
    logs: logs.map((l) => {
      const { text, kept } = readableLog(l, organizer);
      return {
        phase: l.phase,
        title: l.phase === "smoke" ? "Smoke run log (development images)" : "Hidden run log",
        text,
        // What of the model's output the text holds, in the same words as the CLI.
        note: logKeptNote(kept),
      };
    }),
    facts: {
      kind: s.kind === "bundle" ? "code bundle" : "Docker image",
      command: s.command,
      description: s.description,
      uploadSize: formatBytes(Number(s.uploadSize)),
      uploadSha256: s.uploadSha256,
      image: s.imageDigest ? `${s.imageDigest} (${formatBytes(Number(s.imageSize ?? 0))})` : null,
      // A bundle's image is the competition's runtime image, not anything the team sent.
      imageLabel: s.kind === "bundle" ? "Runtime image" : "Image",
      smokePassedAt: s.smokePassedAt ? formatDateTime(s.smokePassedAt) : null,
      startedAt: s.startedAt ? formatDateTime(s.startedAt) : null,
      finishedAt: s.finishedAt ? formatDateTime(s.finishedAt) : null,
    },
    // Where the score came from: only a scored submission has (or lacks) one.
    provenance: s.state === "scored" ? { recorded: provenanceFacts(origin.provenance, s.kind) } : null,
    revisions: revisionRows(origin.scoreRevisions),
  };
}

export interface SubmissionPagesOptions {
  db: Db;
  web: WebContext;
  organizer: Pick<OrganizerService, "refreshTies">;
  /** The ranked board: whether an entry leads or is tied with the leader. */
  board: LeaderboardSource;
}

/** The submit form and the submission page (live status, failure explanation, scores and plots). */
const submissionPages: FastifyPluginCallback<SubmissionPagesOptions> = (
  app,
  { db, web, organizer, board },
  done,
) => {
  const aucFloor = web.competition.aucFloor;

  app.get("/submit", { schema: { hide: true } }, async (request, reply) => {
    const p = request.principal;
    if (!p) return redirectToLogin(web, request, reply);
    if (p.role !== "team") throw new Errors.Forbidden("only teams submit models; organizer accounts cannot");
    const [quota, release] = await Promise.all([
      quotaSummary(db, p.team.id),
      currentRelease(db, web.competition.id),
    ]);
    return renderPage(web, request, reply, "submit", {
      title: "Submit a model",
      quota,
      closed: release.closed,
      approved: p.team.approved,
      scripts: ["submit.js"],
    });
  });

  async function findHere(id: string): Promise<SubmissionRow | null> {
    if (!UUID.test(id)) return null;
    const s = await findSubmission(db, id);
    return s && s.competitionId === web.competition.id ? s : null;
  }

  /** "leader", "tied" (statistically tied with the leader), or null (not computed, or behind). */
  async function versusLeader(s: SubmissionRow): Promise<"leader" | "tied" | null> {
    if (s.state !== "scored") return null;
    const { entries } = await board.get();
    const entry = entries.find((e) => e.submissionId === s.id);
    if (!entry || entry.tiedWithLeader !== true) return null;
    // A baseline is never the leader (nor marked): the leader is the best entry that is not one.
    return entries.find((e) => !e.baseline)?.submissionId === s.id ? "leader" : "tied";
  }

  app.get<{ Params: { id: string } }>(
    "/submissions/:id",
    { schema: { hide: true } },
    async (request, reply) => {
      const s = await findHere(request.params.id);
      const release = await currentRelease(db, web.competition.id);
      const whole = s !== null && canSeeWhole(request.principal, s);
      const organizer = request.principal?.role === "organizer";
      // Others' private submissions are 404, exactly like an id that does not exist.
      if (!s || (!whole && !isPublicEntry(s, release, aucFloor)))
        throw new Errors.NotFound(`no submission ${request.params.id}`);
      const shown = releasedView(s, release);
      const plots = organizer || (release.closed && !(shown.ladder?.improved === false));
      return renderPage(web, request, reply, "submission", {
        title: `${s.modelName} · submission`,
        s: {
          id: s.id,
          model: s.modelName,
          team: s.team.name,
          institution: s.team.institution,
          baseline: s.team.baseline,
          link: safeHref(s.link),
          ensemble: s.ensemble,
          state: s.state,
          stateLabel: STATE_LABELS[s.state],
          hidden: s.hidden,
          disqualified: s.disqualified,
          disqualifiedReason: s.disqualifiedReason,
          listed: listedOnBoard(s, release, aucFloor),
          createdAt: formatDateTime(s.createdAt),
          createdIso: s.createdAt.toISOString(),
          meanAuc: shown.meanAuc === null ? null : formatAuc(shown.meanAuc, release),
          meanCi: formatInterval(shown.meanAuc95, release),
          meanRads: shown.meanRadsBelowCurve === null ? null : formatRads(shown.meanRadsBelowCurve, release),
          privatePart: shown.privatePart
            ? {
                meanAuc: formatAuc(shown.privatePart.meanAuc, release),
                meanCi: formatInterval(shown.privatePart.meanAuc95, release),
                meanRads: formatRads(shown.privatePart.meanRadsBelowCurve, release),
              }
            : null,
          split: release.split,
          ladder: shown.ladder,
          versusLeader: await versusLeader(s),
        },
        tasks: taskRows(s, release, plots),
        // The hidden-set plots wait for the closing: say so where they will appear.
        plotsLater: s.state === "scored" && !plots,
        owner: whole ? await ownerData(db, s, organizer) : null,
        legend: {
          curve: legendMarkerSvg("curve"),
          readers: [0, 1, 2].map((i) => legendMarkerSvg(i)),
          majority: legendMarkerSvg("majority"),
        },
        scripts: whole ? ["submission.js"] : [],
      });
    },
  );

  for (const [action, hidden] of [
    ["hide", true],
    ["unhide", false],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/submissions/:id/${action}`,
      { schema: { hide: true } },
      async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
        const s = await findHere(request.params.id);
        if (!s || !canSeeWhole(request.principal, s))
          throw new Errors.NotFound(`no submission ${request.params.id}`);
        await setSubmissionHidden(db, s.id, hidden, auditOf(request, web.competition.id));
        await organizer.refreshTies(`submission ${s.id} ${hidden ? "hidden" : "shown"}`, request.log);
        const next = (request.body as { next?: unknown } | undefined)?.next;
        return reply.redirect(localPath(next, `${web.base.pages}/submissions/${s.id}`), 303);
      },
    );
  }
  done();
};

export default submissionPages;
