import type { FailureCategory, SubmissionState } from "@holdout/contracts";
import type { Db } from "./client.ts";
import type { Prisma } from "./generated/prisma/client.ts";
import type { RunPhase } from "./submission-repository.ts";

// A submission's state machine: every change of state is a conditional update with its timeline
// event in the same transaction (transitionSubmission), so the timeline never misses a transition.

/**
 * A run's hold on its submission (see startRun): the worker's name and a token only that run knows.
 * Every later write of the run is conditional on the row still carrying the token, so a run that
 * lost its lease (it lapsed and another run took over, or the reconciler gave it back to the queue)
 * can no longer change anything.
 */
export interface RunLease {
  submissionId: string;
  worker: string;
  token: string;
}

/**
 * Whose write a transition is: the run holding this lease, or anyone, but only while no run holds
 * a live lease (the reconciler, a worker that found nothing running). Without one: no condition
 * (the API's moves of rows no run has yet, and tests).
 */
export type Holder = RunLease | "unheld";

/**
 * Options for the transactions of a submission's run. A worker descheduled for a few seconds in one
 * (a loaded host, a long pause) must not see it expire under it and its evaluation retried as an
 * infrastructure fault: Prisma's defaults allow 2 s to get a connection and 5 s in all (seen: a
 * worker stopped 3 s mid-transaction on a busy host). The database holds the row locks while the
 * process is stopped whatever this says, so a longer limit costs nothing.
 */
export const RUN_TRANSACTION = { maxWait: 30_000, timeout: 60_000 };

/** A row that leaves the states a run holds gives up its lease with them. */
const LEASE_CLEARED = { leaseToken: null, leaseExpiresAt: null } as const;

export interface Transition {
  from: readonly SubmissionState[];
  to: SubmissionState;
  /** Further conditions on the row, checked in the same statement. */
  where?: Prisma.SubmissionWhereInput;
  holder?: Holder;
  data?: Omit<Prisma.SubmissionUpdateManyMutationInput, "state">;
  detail?: string | null;
  worker?: string | null;
}

/** The condition a holder puts on the row. Expiry is judged by the database's clock, not a worker's. */
async function holderWhere(
  tx: Prisma.TransactionClient,
  holder: Holder | undefined,
): Promise<Prisma.SubmissionWhereInput> {
  if (holder === undefined) return {};
  if (holder !== "unheld") return { leaseToken: holder.token };
  const [row] = await tx.$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
  return {
    OR: [
      { leaseToken: null },
      { leaseExpiresAt: null },
      { leaseExpiresAt: { lte: row?.now ?? new Date(0) } },
    ],
  };
}

/**
 * Moves a submission between states if, and only if, it is in one of `from` (and its holder's
 * condition holds). The check and the update are one statement, so two workers (or a worker and a
 * cancel) cannot both win; the timeline event is written in the same transaction. Returns whether
 * the transition happened.
 */
export async function transitionSubmission(db: Db, id: string, t: Transition): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.submission.updateMany({
      where: { AND: [{ ...t.where, id, state: { in: [...t.from] } }, await holderWhere(tx, t.holder)] },
      data: { ...t.data, state: t.to },
    });
    if (count === 0) return false;
    await tx.submissionEvent.create({
      data: { submissionId: id, state: t.to, detail: t.detail ?? null, worker: t.worker ?? null },
    });
    return true;
  }, RUN_TRANSACTION);
}

export function markQueued(db: Db, id: string) {
  return transitionSubmission(db, id, {
    from: ["received"],
    to: "queued",
    data: { queuedAt: new Date() },
    detail: "waiting for a worker",
  });
}

/**
 * Gives a run back to the queue (its worker is shutting down, or died): `queued` again, with the
 * reason on the timeline. Only from the states a run holds, so a final state is never undone; a run
 * hands back its own lease, anyone else only a row whose lease has lapsed.
 */
export function returnToQueue(
  db: Db,
  id: string,
  t: { detail: string; holder: Holder; worker?: string | null; from?: readonly SubmissionState[] },
): Promise<boolean> {
  return transitionSubmission(db, id, {
    from: t.from ?? ["running", "scoring"],
    to: "queued",
    holder: t.holder,
    data: { queuedAt: new Date(), worker: null, heartbeatAt: null, ...LEASE_CLEARED },
    worker: t.worker ?? null,
    detail: t.detail,
  });
}

export const CANCELLED_DETAIL = "cancelled by the team";

/**
 * The end of a run whose cancel was requested (the worker stopped its containers), or of one that
 * never began (`unheld`: no other run holds it).
 */
export function markCancelled(
  db: Db,
  id: string,
  worker: string | null,
  opts: { holder?: Holder; detail?: string } = {},
) {
  return transitionSubmission(db, id, {
    from: ["received", "queued", "running", "scoring"],
    to: "cancelled",
    ...(opts.holder ? { holder: opts.holder } : {}),
    data: { finishedAt: new Date(), heartbeatAt: null, ...LEASE_CLEARED },
    worker,
    detail: opts.detail ?? CANCELLED_DETAIL,
  });
}

export type CancelOutcome =
  /** It had not started: it is `cancelled` now. */
  | { outcome: "cancelled"; state: "cancelled" }
  /** It is running: its worker stops it within a heartbeat and then marks it `cancelled`. */
  | { outcome: "stopping"; state: SubmissionState }
  /** Already final (scored, failed or cancelled): nothing changed. */
  | { outcome: "final"; state: SubmissionState };

/**
 * The database side of a team's cancel. A submission that has not started (received, queued) is
 * cancelled at once; its job, if any, finds it cancelled and does nothing. A running one gets
 * `cancelRequestedAt` (the first request's time is kept) and a timeline event; the worker running it
 * sees the flag at its next heartbeat, stops the containers and marks it `cancelled`. Null if there
 * is no such submission. Cancelled submissions stay charged to the quota, as in the official rules.
 */
export async function requestCancel(db: Db, id: string): Promise<CancelOutcome | null> {
  const now = new Date();
  const direct = await transitionSubmission(db, id, {
    from: ["received", "queued"],
    to: "cancelled",
    data: { cancelRequestedAt: now, finishedAt: now },
    detail: CANCELLED_DETAIL,
  });
  if (direct) return { outcome: "cancelled", state: "cancelled" };
  return db.$transaction(async (tx) => {
    const row = await tx.submission.findUnique({
      where: { id },
      select: { state: true, cancelRequestedAt: true },
    });
    if (!row) return null;
    if (row.state !== "running" && row.state !== "scoring") {
      // received/queued here means a transition raced ours; it is final or running by the next call.
      return { outcome: "final", state: row.state };
    }
    if (row.cancelRequestedAt === null) {
      await tx.submission.updateMany({
        where: { id, state: { in: ["running", "scoring"] }, cancelRequestedAt: null },
        data: { cancelRequestedAt: now },
      });
      await tx.submissionEvent.create({
        data: {
          submissionId: id,
          state: row.state,
          detail: "cancel requested by the team; stopping the run",
        },
      });
    }
    return { outcome: "stopping", state: row.state };
  });
}

export const SMOKE_FAILURE_NOTE =
  "it failed in the smoke run, so the hidden run was not spent and it is not charged to your quota";

/**
 * Ends a submission as failed. Our own faults (infrastructure) and failures in the smoke run (the
 * hidden test set was never touched) are refunded: they do not count against the team's quota.
 * `message` is what the team reads (here and on the timeline); `opts.detail`, the failure as the
 * worker saw it, is kept for organizers only (a hidden run's message to the team is fixed text).
 */
export function markFailed(
  db: Db,
  id: string,
  category: FailureCategory,
  message: string,
  worker?: string,
  opts: { phase?: RunPhase; detail?: string; holder?: Holder } = {},
) {
  const refunded = category === "infrastructure" || opts.phase === "smoke";
  return transitionSubmission(db, id, {
    from: ["received", "queued", "running", "scoring"],
    to: "failed",
    ...(opts.holder ? { holder: opts.holder } : {}),
    data: {
      failureCategory: category,
      failureMessage: message,
      failureDetail: opts.detail ?? null,
      finishedAt: new Date(),
      heartbeatAt: null,
      ...LEASE_CLEARED,
      ...(opts.phase ? { failedPhase: opts.phase } : {}),
      ...(refunded ? { refunded: true } : {}),
    },
    worker: worker ?? null,
    detail:
      opts.phase === "smoke"
        ? `${category} in the smoke run: ${message}; ${SMOKE_FAILURE_NOTE}`
        : `${category}: ${message}`,
  });
}
