import { Redis } from "ioredis";
import {
  createQueue,
  createWorker,
  QUEUE_EVALUATE,
  QUEUE_LEADER_TIES,
  QUEUE_NOTIFY,
  QUEUE_RESCORE,
  type AnyWorker,
  type EvaluateQueue,
  type JobProcessor,
  type LeaderTiesQueue,
  type NotifyQueue,
} from "@holdout/contracts";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { WorkerMetrics } from "./metrics.ts";

/** The worker's Redis connection and the queues it adds jobs to (the reconciler, tie refreshes, notifications). */
export interface WorkerQueues {
  redis: Redis;
  evaluate: EvaluateQueue;
  ties: LeaderTiesQueue;
  notify: NotifyQueue;
  close(): Promise<unknown>;
}

export function openQueues(config: WorkerConfig): WorkerQueues {
  // BullMQ workers block on Redis; they must retry forever rather than fail a command.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = config.HOLDOUT_QUEUE_PREFIX;
  const evaluate = createQueue(redis, QUEUE_EVALUATE, { prefix });
  const ties = createQueue(redis, QUEUE_LEADER_TIES, { prefix });
  const notify = createQueue(redis, QUEUE_NOTIFY, { prefix });
  return {
    redis,
    evaluate,
    ties,
    notify,
    close: () => Promise.all([evaluate.close(), ties.close(), notify.close()]),
  };
}

/** What each queue's jobs are given to. */
export interface Processors {
  evaluate: JobProcessor<typeof QUEUE_EVALUATE>;
  rescore: JobProcessor<typeof QUEUE_RESCORE>;
  ties: JobProcessor<typeof QUEUE_LEADER_TIES>;
  notify: JobProcessor<typeof QUEUE_NOTIFY>;
}

/** The BullMQ workers taking this process's jobs, in the order they are closed. */
export type JobWorkers = [
  evaluator: AnyWorker,
  rescorer: AnyWorker,
  tiesWorker: AnyWorker,
  notifier: AnyWorker,
];

/**
 * Starts a BullMQ worker per queue: evaluations at the configured concurrency, re-scores and tie
 * refreshes one at a time, notifications a few at a time (each waits on a remote server at most
 * HOLDOUT_WEBHOOK_TIMEOUT_SECONDS). Their errors are logged and their jobs counted in the metrics.
 */
export function startJobWorkers(
  config: WorkerConfig,
  redis: Redis,
  processors: Processors,
  watch: { log: Logger; metrics: Pick<WorkerMetrics, "watch"> },
): JobWorkers {
  const lockDuration = config.HOLDOUT_JOB_LOCK_SECONDS * 1000;
  const options = {
    prefix: config.HOLDOUT_QUEUE_PREFIX,
    // A job's lock is renewed while it runs; a worker that dies stops renewing, and the stalled check
    // of any live worker moves the job back to the wait list after the lock expires. A live worker
    // that was merely starved past its lock loses the job the same way: the evaluation's lease in
    // PostgreSQL, not this lock, decides who runs it (see run-repository.ts in @holdout/db).
    lockDuration,
    stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
    maxStalledCount: 2,
  };
  const workers: JobWorkers = [
    createWorker(redis, QUEUE_EVALUATE, processors.evaluate, {
      ...options,
      concurrency: config.HOLDOUT_WORKER_CONCURRENCY,
    }),
    createWorker(redis, QUEUE_RESCORE, processors.rescore, { ...options, concurrency: 1 }),
    createWorker(redis, QUEUE_LEADER_TIES, processors.ties, { ...options, concurrency: 1 }),
    createWorker(redis, QUEUE_NOTIFY, processors.notify, { ...options, concurrency: 4 }),
  ];
  // BullMQ keeps trying to renew a lock it lost (every quarter of the lock's duration, for the rest
  // of the run) and reports each failure as an error: one warning per job says it instead.
  const lockLost = new Set<string>();
  const { log, metrics } = watch;
  for (const w of workers) {
    w.on("error", (err) => {
      if (!err.message.startsWith("could not renew lock for job "))
        log.error({ err, queue: w.name }, "worker error");
    });
    w.on("lockRenewalFailed", (jobIds) => {
      if (lockLost.size > 1000) lockLost.clear();
      for (const jobId of jobIds.filter((id) => !lockLost.has(id))) {
        lockLost.add(jobId);
        log.warn(
          { jobId, queue: w.name },
          "lost the job's lock (this worker was too slow to renew it): the queue may hand the job to another worker",
        );
      }
    });
    metrics.watch(w);
  }
  return workers;
}
