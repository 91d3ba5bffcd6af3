import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import {
  createQueue,
  leaderTiesJobOptions,
  QUEUE_LEADER_TIES,
  QUEUE_RESCORE,
  rescoreJobOptions,
  type EvaluateQueue,
} from "@holdout/contracts";
import {
  closeCompetition,
  CompetitionAlreadyClosedError,
  findRescoreCandidate,
  type listAudit,
  listUnfinishedForOrganizers,
  listWorkerHeartbeats,
  recordAudit,
  setSubmissionDisqualified,
  SettingLockedError,
  updateCompetitionSettings,
  type AuditActor,
  type CompetitionSettings,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { UUID } from "../schemas/common.ts";
import { LIVE_WORKER_MS, queueEstimates } from "./queue-position.ts";
import { displayText } from "./text.ts";

// What organizers do to submissions and see of the evaluation machinery, shared by the admin API
// (routes/admin.ts, routes/admin-competition.ts) and the organizer pages (web/admin-pages.ts), so
// both follow exactly the same rules.

/** The reason shown to the team and kept on the timeline: required, one paragraph. */
export function disqualificationReason(value: string | undefined): string {
  const reason = displayText("reason", value ?? "");
  if (reason.length > 500) {
    throw Object.assign(new Errors.InvalidField("field `reason` must be at most 500 characters"), {
      errors: [{ field: "reason", message: "must be at most 500 characters" }],
    });
  }
  return reason;
}

/** One audit log entry as organizers read it, in the API and on their page alike. */
export function auditEventView(e: Awaited<ReturnType<typeof listAudit>>[number]) {
  return {
    id: e.id.toString(),
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    target: e.targetType && e.targetId ? { type: e.targetType, id: e.targetId } : null,
    detail: e.detail,
  };
}

export interface OrganizerServiceDeps {
  db: Db;
  competitionId: string;
  evaluateQueue: EvaluateQueue;
  /** The re-score and tie-marks queues are opened on this connection. */
  redis: Redis;
}

export type OrganizerService = ReturnType<typeof createOrganizerService>;

export function createOrganizerService({ db, competitionId, evaluateQueue, redis }: OrganizerServiceDeps) {
  // Both opened on the caller's connection, under the evaluate queue's prefix (the workers' own).
  const prefix = evaluateQueue.opts.prefix ? { prefix: evaluateQueue.opts.prefix } : {};
  const rescoreQueue = createQueue(redis, QUEUE_RESCORE, prefix);
  const tiesQueue = createQueue(redis, QUEUE_LEADER_TIES, prefix);
  async function rescoreCandidate(id: string) {
    const s = UUID.test(id) ? await findRescoreCandidate(db, competitionId, id) : null;
    if (!s) throw new Errors.NotFound(`no submission ${id}`);
    return s;
  }

  return {
    /**
     * Queues a re-score of a scored submission's stored predictions (the model is not run again).
     * One job per request: the id carries the request time.
     */
    async rescore(id: string, by: AuditActor, now = new Date()) {
      const s = await rescoreCandidate(id);
      if (s.state !== "scored" || !s.predictionsKept) {
        throw new Errors.NotRescorable(
          s.state !== "scored"
            ? `submission ${id} is ${s.state}: only scored submissions can be re-scored`
            : `submission ${id} has no stored predictions to re-score (it was scored before predictions were kept)`,
        );
      }
      const options = rescoreJobOptions(s.id, now.getTime());
      await rescoreQueue.add(QUEUE_RESCORE, { submissionId: s.id, requestedBy: by.actor }, options);
      // Written once the job is queued (Redis and PostgreSQL share no transaction): a row means a re-score.
      await recordAudit(db, by, { action: "submission.rescore", targetType: "submission", targetId: s.id });
      return { jobId: options.jobId ?? "", requestedAt: now.toISOString() };
    },

    /** Disqualifies (reason given) or requalifies an entry; the timeline and the audit log record it. */
    async setDisqualified(by: AuditActor, id: string, disqualified: boolean, reason: string | null) {
      if (!UUID.test(id) || !(await setSubmissionDisqualified(db, by, id, disqualified, reason))) {
        throw new Errors.NotFound(`no submission ${id}`);
      }
    },

    /** Changes settings (audited); a locked setting is a 409 saying why. */
    async updateSettings(by: AuditActor, patch: Partial<CompetitionSettings>) {
      try {
        return await updateCompetitionSettings(db, by, patch);
      } catch (err) {
        if (err instanceof SettingLockedError) throw new Errors.SettingLocked(err.message);
        throw err;
      }
    },

    /**
     * Closes the competition (audited, once): uploads are refused from now on and the curves are
     * published. With a split, the final (private-part) board's tie marks are computed by a worker.
     */
    async closeCompetition(by: AuditActor, log: FastifyBaseLogger) {
      let closed;
      try {
        closed = await closeCompetition(db, by);
      } catch (err) {
        if (err instanceof CompetitionAlreadyClosedError) throw new Errors.AlreadyClosed(err.message);
        throw err;
      }
      await this.refreshTies("the competition closed", log);
      return closed;
    },

    /** Every submission not yet final, oldest first, with its place in the queue; and BullMQ's counts. */
    async queue(now = new Date()) {
      const [rows, estimates, evaluate, rescore] = await Promise.all([
        listUnfinishedForOrganizers(db, competitionId),
        queueEstimates(db, competitionId, now),
        evaluateQueue.getJobCounts("waiting", "active", "delayed", "failed", "completed", "prioritized"),
        rescoreQueue.getJobCounts("waiting", "active", "delayed", "failed", "completed"),
      ]);
      return {
        jobs: { evaluate, rescore },
        submissions: rows.map((r) => ({
          ...r,
          position: estimates.get(r.id)?.position ?? null,
          estimatedStartAt: estimates.get(r.id)?.estimatedStartAt ?? null,
        })),
      };
    },

    /** Worker processes by their heartbeats; `stale` ones are not counted as taking work. */
    async workers(now = new Date()) {
      const rows = await listWorkerHeartbeats(db);
      return rows.map((w) => ({ ...w, stale: now.getTime() - w.lastSeenAt.getTime() > LIVE_WORKER_MS }));
    },

    /**
     * Asks the workers to recompute the "tied with the leader" marks: the listed set changed (an
     * entry hidden, shown, disqualified or requalified). Only workers hold the labels the paired
     * bootstrap needs. A failure to queue is logged, not thrown: the change itself is made, and the
     * next score or re-score refreshes the marks anyway.
     */
    async refreshTies(reason: string, log: FastifyBaseLogger, now = new Date()) {
      try {
        await tiesQueue.add(
          QUEUE_LEADER_TIES,
          { competitionId, reason: reason.slice(0, 200) },
          leaderTiesJobOptions(competitionId, now.getTime()),
        );
      } catch (err) {
        log.error({ err, competitionId, reason }, "could not queue the refresh of the tie marks");
      }
    },

    /** Closes the queues (the Redis connection is the caller's). */
    async close() {
      await Promise.allSettled([rescoreQueue.close(), tiesQueue.close()]);
    },
  };
}
