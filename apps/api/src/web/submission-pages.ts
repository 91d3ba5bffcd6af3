import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import { isFinalState, type SubmissionState } from "@holdout/contracts";
import { findSubmission, isListed, listSubmissionEvents, setSubmissionHidden, type Db } from "@holdout/db";
import { formatAuc, formatRads, TASKS } from "@holdout/scorer";
import { Errors } from "../errors.ts";
import { UUID } from "../schemas.ts";
import { canSeeWhole } from "../routes/submissions.ts";
import { findLeaderId, formatInterval } from "../services/leaderboard.ts";
import { queueEstimateOf } from "../services/queue-position.ts";
import type { OrganizerService } from "./organizer.ts";
import { explainFailure } from "./failures.ts";
import { codeSegments, formatBytes, formatDateTime, localPath, safeHref, STATE_LABELS } from "./format.ts";
import { curvesOf, legendMarkerSvg, pairsOf, prSvg, rocSvg, type PlotData } from "./plots.ts";
import { quotaSummary } from "./quota-summary.ts";
import { redirectToLogin, renderPage, type WebContext } from "./render.ts";

type SubmissionRow = NonNullable<Awaited<ReturnType<typeof findSubmission>>>;

function explained(category: Parameters<typeof explainFailure>[0]) {
  const e = explainFailure(category);
  return { title: e.title, what: codeSegments(e.what), next: codeSegments(e.next) };
}

const TASK_ORDER = new Map<string, number>(TASKS.map((t, i) => [t, i]));

function taskRows(s: SubmissionRow, withPlots: boolean) {
  return [...s.results]
    .sort((a, b) => (TASK_ORDER.get(a.task) ?? 99) - (TASK_ORDER.get(b.task) ?? 99))
    .map((r, i) => {
      const ci = formatInterval(r.aucLo !== null && r.aucHi !== null ? [r.aucLo, r.aucHi] : null);
      const curves = curvesOf(r.curves);
      const plot: PlotData = {
        task: r.task,
        auc: r.auc,
        radsBelowCurve: r.radsBelowCurve,
        roc: pairsOf(r.roc) ?? [],
        ...curves,
      };
      return {
        task: r.task,
        auc: formatAuc(r.auc),
        ci,
        rads: r.radsBelowCurve,
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
async function ownerData(db: Db, s: SubmissionRow) {
  const [events, logs, queue] = await Promise.all([
    listSubmissionEvents(db, s.id),
    db.submissionLog.findMany({ where: { submissionId: s.id }, orderBy: { phase: "asc" } }),
    queueEstimateOf(db, s),
  ]);
  const state: SubmissionState = s.state;
  const failure = s.failureCategory
    ? {
        category: s.failureCategory,
        ...explained(s.failureCategory),
        message: s.failureMessage,
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
    logs: logs.map((l) => ({
      phase: l.phase,
      title: l.phase === "smoke" ? "Smoke run log (development images)" : "Hidden run log",
      text: l.text,
      truncated: l.truncated,
    })),
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
  };
}

export interface SubmissionPagesOptions {
  db: Db;
  web: WebContext;
  organizer: Pick<OrganizerService, "refreshTies">;
}

/** The submit form and the submission page (live status, failure explanation, scores and plots). */
const submissionPages: FastifyPluginCallback<SubmissionPagesOptions> = (
  app,
  { db, web, organizer },
  done,
) => {
  const aucFloor = web.competition.aucFloor;

  app.get("/submit", { schema: { hide: true } }, async (request, reply) => {
    const p = request.principal;
    if (!p) return redirectToLogin(request, reply);
    if (p.role !== "team") throw new Errors.Forbidden("only teams submit models; organizer accounts cannot");
    const quota = await quotaSummary(db, p.team.id);
    return renderPage(web, request, reply, "submit", {
      title: "Submit a model",
      quota,
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
    if (!isListed(s, aucFloor) || s.tiedWithLeader !== true) return null;
    return (await findLeaderId(db, web.competition)) === s.id ? "leader" : "tied";
  }

  app.get<{ Params: { id: string } }>(
    "/submissions/:id",
    { schema: { hide: true } },
    async (request, reply) => {
      const s = await findHere(request.params.id);
      const whole = s !== null && canSeeWhole(request, s);
      // Others' private submissions are 404, exactly like an id that does not exist.
      if (!s || (!whole && !isListed(s, aucFloor)))
        throw new Errors.NotFound(`no submission ${request.params.id}`);
      const meanCi = formatInterval(
        s.meanAucLo !== null && s.meanAucHi !== null ? [s.meanAucLo, s.meanAucHi] : null,
      );
      return renderPage(web, request, reply, "submission", {
        title: `${s.modelName} · submission`,
        s: {
          id: s.id,
          model: s.modelName,
          team: s.team.name,
          institution: s.team.institution,
          link: safeHref(s.link),
          ensemble: s.ensemble,
          state: s.state,
          stateLabel: STATE_LABELS[s.state],
          hidden: s.hidden,
          disqualified: s.disqualified,
          disqualifiedReason: s.disqualifiedReason,
          listed: isListed(s, aucFloor),
          createdAt: formatDateTime(s.createdAt),
          createdIso: s.createdAt.toISOString(),
          meanAuc: s.meanAuc === null ? null : formatAuc(s.meanAuc),
          meanCi,
          meanRads: s.meanRadsBelowCurve === null ? null : formatRads(s.meanRadsBelowCurve),
          versusLeader: await versusLeader(s),
        },
        tasks: taskRows(s, whole),
        owner: whole ? await ownerData(db, s) : null,
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
        if (!s || !canSeeWhole(request, s)) throw new Errors.NotFound(`no submission ${request.params.id}`);
        await setSubmissionHidden(db, s.id, hidden);
        await organizer.refreshTies(`submission ${s.id} ${hidden ? "hidden" : "shown"}`, request.log);
        const next = (request.body as { next?: unknown } | undefined)?.next;
        return reply.redirect(localPath(next, `/submissions/${s.id}`), 303);
      },
    );
  }
  done();
};

export default submissionPages;
