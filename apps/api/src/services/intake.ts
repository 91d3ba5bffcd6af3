import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import {
  addEvaluateJob,
  BundleCommandError,
  DEFAULT_BUNDLE_COMMAND,
  parseBundleCommand,
  type EvaluateQueue,
} from "@holdout/contracts";
import {
  CompetitionClosedError,
  NoOpenPhaseError,
  createSubmission,
  markFailed,
  markQueued,
  QuotaReservationLostError,
  releaseQuotaSlot,
  reserveQuotaSlot,
  type Db,
  type Principal,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import type { BundleLimits } from "./bundle.ts";
import { Compensations } from "./compensation.ts";
import { quotaError } from "./quota.ts";
import { competitionClosed, refuseIfClosed } from "./release.ts";
import { removeUpload, type ReceivedUpload, type UploadTarget } from "./upload-store.ts";

// The one way an upload becomes a submission, for multipart (routes/submissions.ts) and resumable
// (routes/uploads.ts) uploads alike (docs/architecture.md, "A submission's path", step 2 and 3):
// the team's approval, a quota slot reserved before a byte is read, the file received by the
// transport, the submission recorded, then queued. A step that fails undoes every earlier one
// (services/compensation.ts): the stored file is removed and the slot given back.

export interface IntakeOptions {
  db: Db;
  queue: EvaluateQueue;
  dataDir: string;
  competitionId: string;
  bundleLimits: BundleLimits;
  /** How long a quota slot is held for an upload in progress. */
  reservationTtlMs: number;
}

/** A quota slot held for one upload: its id is the upload's, and becomes the submission's. */
export interface Slot {
  id: string;
  teamId: string;
}

export type Intake = ReturnType<typeof createIntake>;

export function createIntake(opts: IntakeOptions) {
  const { db, dataDir } = opts;

  /** The submission in `received`: its quota reservation (same id) becomes it in one transaction. */
  async function record(slot: Slot, upload: ReceivedUpload): Promise<void> {
    try {
      await createSubmission(
        db,
        {
          id: upload.id,
          competitionId: opts.competitionId,
          teamId: slot.teamId,
          kind: upload.kind,
          modelName: upload.fields.model,
          description: upload.fields.description || null,
          link: upload.fields.link || null,
          ensemble: upload.fields.ensemble ?? false,
          command: upload.fields.command ?? null,
          uploadFile: upload.fileName,
          bundleDir: upload.bundleDir,
          uploadSize: upload.size,
          uploadSha256: upload.sha256,
        },
        slot.id,
      );
    } catch (err) {
      if (err instanceof QuotaReservationLostError) {
        throw new Errors.UploadExpired("the upload took longer than its quota slot is held; please retry");
      }
      if (err instanceof CompetitionClosedError) throw competitionClosed();
      if (err instanceof NoOpenPhaseError) throw new Errors.NoOpenPhase(err.message);
      throw err;
    }
  }

  /**
   * Hands a recorded submission to the workers; returns the state it is in now. Images and code
   * bundles alike go to the queue (and are charged alike).
   */
  async function enqueue(slot: Slot, upload: ReceivedUpload, log: FastifyBaseLogger): Promise<"queued"> {
    // Queued before the job exists, so a fast worker always finds the state it expects. Should this
    // write fail, the submission stays `received` with its file, and the reconciler queues it.
    await markQueued(db, upload.id);
    try {
      // The team's turn in the queue, shared fairly with its competition's other teams and with the
      // other competitions.
      await addEvaluateJob(
        opts.queue,
        { competitionId: opts.competitionId, teamId: slot.teamId, submissionId: upload.id },
        (err) =>
          log.warn({ err, submissionId: upload.id }, "queued, but its fair-share turn is not marked added"),
      );
    } catch (err) {
      log.error({ err, submissionId: upload.id }, "could not enqueue submission");
      const undo = new Compensations(log);
      // An infrastructure failure: not counted against the team's quota. The file goes only once
      // the submission is failed: one left `queued` is queued again by the reconciler, and needs it.
      undo.push("fail the submission that could not be queued", async () => {
        await markFailed(db, upload.id, "infrastructure", "the job queue was unavailable; it is not charged");
        await removeUpload(dataDir, upload);
      });
      await undo.run();
      throw new Errors.Unavailable("the job queue is unavailable; nothing was charged, please retry");
    }
    return "queued";
  }

  return {
    /** Where the transport stores the upload of a slot. */
    target(id: string): UploadTarget {
      return { id, dataDir, bundleLimits: opts.bundleLimits };
    },

    /** Step 1: only an approved team submits (organizers are refused by the routes' requireTeam). */
    admit(principal: Principal | null): void {
      if (principal?.role === "team" && !principal.team.approved) {
        throw new Errors.TeamNotApproved(
          "your team is registered but not approved yet: an organizer must approve it before it can submit",
        );
      }
    },

    /**
     * Step 2: a quota slot, taken before a byte of the file is read, while the competition is open;
     * a 429 saying when the next one opens if none is left. The slot's id names the upload.
     */
    async reserve(teamId: string): Promise<Slot & { expiresAt: Date }> {
      await refuseIfClosed(db, opts.competitionId);
      const id = randomUUID();
      // Taken before the slot is: an upload is never promised more time than its slot has.
      const expiresAt = new Date(Date.now() + opts.reservationTtlMs);
      const reservation = await reserveQuotaSlot(db, {
        teamId,
        reservationId: id,
        ttlMs: opts.reservationTtlMs,
      }).catch((err: unknown) => {
        if (err instanceof CompetitionClosedError) throw competitionClosed();
        if (err instanceof NoOpenPhaseError) throw new Errors.NoOpenPhase(err.message);
        throw err;
      });
      if (!reservation.ok) throw quotaError(reservation.status);
      return { id, teamId, expiresAt };
    },

    /**
     * Steps 3 to 5: the file, as the transport receives and stores it (`receive`, which registers
     * the undo of whatever it keeps of its own), the bundle's command checked, the submission
     * recorded and queued. If any step up to the record fails, every earlier one is undone (the
     * stored file removed, the slot given back) and the step's error is thrown.
     */
    async complete(
      slot: Slot,
      log: FastifyBaseLogger,
      receive: (undo: Compensations) => Promise<ReceivedUpload>,
    ): Promise<"queued"> {
      const undo = new Compensations(log);
      undo.push("give the quota slot back", () => releaseQuotaSlot(db, slot.id));
      let upload: ReceivedUpload;
      try {
        upload = await receive(undo);
        const stored = upload;
        undo.push("remove the stored upload", () => removeUpload(dataDir, stored));
        if (upload.kind === "bundle") refuseUnrunnableCommand(upload);
        await record(slot, upload);
      } catch (err) {
        await undo.run();
        throw err;
      }
      return enqueue(slot, upload, log);
    },

    /**
     * Gives an upload's slot back (an upload abandoned, refused or gone over the size cap), after
     * `also` (what the transport stored), each step even if one before it failed. Returns the failures.
     */
    async abandon(
      id: string,
      log: FastifyBaseLogger,
      also: [what: string, run: () => Promise<unknown>][] = [],
    ): Promise<unknown[]> {
      const undo = new Compensations(log);
      undo.push("give the quota slot back", () => releaseQuotaSlot(db, id));
      for (const [what, run] of also) undo.push(what, run);
      return undo.run();
    },
  };
}

/**
 * A bundle's command must split into argv without a shell (see parseBundleCommand): checked before
 * the submission is recorded, so a command that could never run costs nothing and leaves nothing.
 */
export function refuseUnrunnableCommand(upload: ReceivedUpload): void {
  try {
    parseBundleCommand(upload.fields.command ?? DEFAULT_BUNDLE_COMMAND);
  } catch (err) {
    if (!(err instanceof BundleCommandError)) throw err;
    throw Object.assign(new Errors.InvalidField(`field \`command\` cannot be run: ${err.message}`), {
      errors: [{ field: "command", message: err.message }],
    });
  }
}
