import type Docker from "dockerode";
import { isFinalState, UUID } from "@holdout/contracts";
import { submissionStates, type Db } from "@holdout/db";
import { reapLeftovers, type ImageLease, type Sandbox } from "@holdout/sandbox";
import type { Logger } from "../logger.ts";
import { startPeriodic } from "../runtime/periodic.ts";
import type { RunRegistry } from "../runtime/run-registry.ts";
import type { ImageLeases } from "./image-leases.ts";

/** The label on every sandbox object of a submission's runs. */
export const SUBMISSION_LABEL = "holdout.submission";

export interface SweeperOptions {
  docker: Docker;
  sandbox: Pick<Sandbox, "listLeases">;
  db: Db;
  registry: Pick<RunRegistry, "ids">;
  /** Releases leases (through the worker's ImageLeases, as its runs do). */
  release(leases: readonly ImageLease[]): Promise<void>;
  /** This worker's labels on its sandbox objects. */
  workerLabels: Record<string, string>;
  log: Logger;
}

/**
 * Image leases a crashed worker left: those of submissions that have ended, and those past their end
 * whoever took them. A lease of a submission this database does not know is another deployment's on
 * a shared engine (or of a deleted submission): it is left until its end. Returns how many went.
 */
export async function releaseEndedLeases(opts: SweeperOptions): Promise<number> {
  // Lease owners are submission ids; anything else on the engine is not ours to release.
  const leases = (await opts.sandbox.listLeases()).filter((lease) => UUID.test(lease.owner));
  if (leases.length === 0) return 0;
  const states = await submissionStates(opts.db, [...new Set(leases.map((lease) => lease.owner))]);
  const now = Date.now();
  const ended = leases.filter((lease) => {
    const state = states.get(lease.owner);
    // A lease whose tag names no end (NaN) counts as over, as a container without a deadline does.
    return state === undefined ? !(lease.until >= now) : isFinalState(state);
  });
  await opts.release(ended);
  return ended.length;
}

/**
 * What a run could not clean up (the engine restarted or was down at the time) goes at the next
 * sweep: this worker's objects of runs it no longer has in progress, anyone's expired runs, and
 * the image leases of ended submissions.
 */
export function startSweeper(opts: SweeperOptions, intervalMs: number): { stop(): Promise<void> } {
  const { docker, log } = opts;
  return startPeriodic(
    async () => {
      const active = new Set(opts.registry.ids());
      const own = await reapLeftovers(docker, opts.workerLabels, {
        skip: (labels) => active.has(labels[SUBMISSION_LABEL] ?? ""),
      });
      const expired = await reapLeftovers(docker, {}, { expiredBefore: Date.now() });
      const leases = await releaseEndedLeases(opts);
      const n = own.containers + own.volumes + expired.containers + expired.volumes + leases;
      if (n > 0) log.info({ own, expired, leases }, "removed sandbox leftovers");
    },
    intervalMs,
    (err) => log.warn({ err }, "could not sweep sandbox leftovers; trying again at the next sweep"),
  );
}

/**
 * Removes what earlier attempts of a submission left on the engine: its containers and volume (by
 * its label) and its image leases.
 */
export async function reapSubmission(
  docker: Docker,
  images: Pick<ImageLeases, "releaseOwnedBy">,
  submissionId: string,
): Promise<void> {
  await reapLeftovers(docker, { [SUBMISSION_LABEL]: submissionId });
  await images.releaseOwnedBy(submissionId);
}
