import os from "node:os";
import type { WorkerLimits } from "@holdout/contracts";
import { recordHeartbeat, removeHeartbeat, type Db } from "@holdout/db";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { workerLimits } from "./published-settings.ts";
import type { RunRegistry } from "./run-registry.ts";

export interface HeartbeatOptions {
  db: Db;
  registry: RunRegistry;
  name: string;
  concurrency: number;
  intervalMs: number;
  /** How long a beat keeps a run's lease: another worker may take the run over once it lapses. */
  leaseMs: number;
  /** What it publishes with each beat for the competition page: the limits in force, the runtime image. */
  limits?: WorkerLimits;
  runtimeImageId?: string | null;
  log: Logger;
}

export interface Heartbeat {
  beat(): Promise<void>;
  stop(): Promise<void>;
}

/** This worker's heartbeat, as configured: a lease lasts HOLDOUT_HEARTBEAT_STALE_SECONDS. */
export function heartbeatFor(
  config: WorkerConfig,
  parts: Pick<HeartbeatOptions, "db" | "registry" | "log" | "runtimeImageId">,
): Heartbeat {
  return startHeartbeat({
    ...parts,
    limits: workerLimits(config),
    name: config.HOLDOUT_WORKER_NAME,
    concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
    intervalMs: config.HOLDOUT_HEARTBEAT_SECONDS * 1000,
    leaseMs: config.HOLDOUT_HEARTBEAT_STALE_SECONDS * 1000,
  });
}

/**
 * Every `intervalMs`: this worker's WorkerHeartbeat row, the renewal of its runs' leases, and the
 * cancel check (a run whose team asked to cancel is stopped here, so within one interval). A run
 * whose lease is no longer its own is stopped too: another run has taken the submission over, and
 * none of this one's writes would be accepted. A failed beat (database down) is logged and the next
 * one tried; beats never overlap.
 */
export function startHeartbeat(opts: HeartbeatOptions): Heartbeat {
  const identity = {
    name: opts.name,
    host: os.hostname(),
    pid: process.pid,
    concurrency: opts.concurrency,
    startedAt: new Date(),
    ...(opts.limits ? { limits: { ...opts.limits } } : {}),
    runtimeImageId: opts.runtimeImageId ?? null,
  };
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;

  const beat = async (): Promise<void> => {
    const running = opts.registry.leases();
    try {
      const { cancelled, lost } = await recordHeartbeat(opts.db, identity, running, opts.leaseMs);
      for (const id of cancelled) {
        if (opts.registry.stop(id, "cancel"))
          opts.log.info({ submissionId: id }, "cancel requested; stopping the run");
      }
      // A run that has just written its final state gave its lease up itself; stopping it is a no-op.
      for (const lease of lost) opts.registry.stop(lease.submissionId, "lost", lease);
    } catch (err) {
      opts.log.warn({ err }, "heartbeat failed; trying again at the next one");
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = beat().finally(schedule);
    }, opts.intervalMs);
  };
  inFlight = beat().finally(schedule);

  return {
    beat: () => (inFlight = inFlight.then(beat)),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      await removeHeartbeat(opts.db, opts.name).catch((err: unknown) =>
        opts.log.warn({ err }, "could not remove this worker's heartbeat row"),
      );
    },
  };
}
