import {
  advanceFairClock,
  type EvaluateQueue,
  type LeaderTiesQueue,
  type NotifyQueue,
} from "@holdout/contracts";
import { UnrecoverableError } from "bullmq";
import { findCompetitionSets, type Db } from "@holdout/db";
import { resolveTrustedImage, type TrustedImage } from "@holdout/sandbox";
import { runLimits, smokeLimits, type WorkerConfig } from "../config.ts";
import type { Janitor } from "../engine/janitor.ts";
import type { WorkerEngine } from "../engine/open-engine.ts";
import type { Logger } from "../logger.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import type { Processors } from "../runtime/queues.ts";
import type { RunRegistry } from "../runtime/run-registry.ts";
import { withEndNotice } from "./end-notice.ts";
import { createEvaluateProcessor } from "./evaluate-submission.job.ts";
import type { RunInputs } from "./inputs.ts";
import { createLeaderTiesProcessor, tieRefresher } from "./leader-ties.job.ts";
import type { LogPolicy } from "./log-policy.ts";
import type { Mailer } from "./mailer.ts";
import { createNotifyProcessor } from "./notify.job.ts";
import { createRescoreProcessor } from "./rescore-submission.job.ts";

/** The parts of the worker its processors use. */
export interface ProcessorParts {
  db: Db;
  engine: WorkerEngine;
  janitor: Pick<Janitor, "images" | "reap">;
  inputs: RunInputs;
  registry: RunRegistry;
  metrics: WorkerMetrics;
  /** The evaluate queue, whose fair-share clock a started run moves. */
  evaluateQueue: Pick<EvaluateQueue, "getBackend" | "toKey">;
  /** Where a failed tie refresh is handed over to a leader-ties job. */
  tiesQueue: Pick<LeaderTiesQueue, "add">;
  /** Where a submission's end and its deliveries are queued. */
  notifyQueue: Pick<NotifyQueue, "add">;
  /** E-mail's way out, or null without HOLDOUT_SMTP_URL. */
  mailer: Mailer | null;
  log: Logger;
}

/** The team's copy of the hidden run's log, as the competition's settings say. */
export function hiddenLogPolicy(config: WorkerConfig): LogPolicy {
  return config.HOLDOUT_HIDDEN_LOG_POLICY === "none"
    ? { kind: "none" }
    : { kind: "tail", bytes: config.HOLDOUT_HIDDEN_LOG_TAIL_KB * 1024 };
}

/**
 * A competition's own runtime image, resolved to its ID on first use and run by that ID from then on
 * (as the configured one is at start). One the engine lacks is looked up again on the next job.
 */
function runtimeResolver(engine: WorkerEngine): (name: string) => Promise<TrustedImage | null> {
  const resolved = new Map<string, TrustedImage>();
  return async (name) => {
    const known = resolved.get(name);
    if (known) return known;
    const image = await resolveTrustedImage(engine.docker, name);
    if (image) resolved.set(name, image);
    return image;
  };
}

/** Whether a competition is one of `slugs` (HOLDOUT_WORKER_COMPETITIONS); slugs never change, so kept. */
function servedBy(db: Db, slugs: ReadonlySet<string>) {
  const known = new Map<string, string>();
  return async (competitionId: string) => {
    let slug = known.get(competitionId);
    if (slug === undefined) {
      const c = await findCompetitionSets(db, competitionId);
      if (!c) throw new UnrecoverableError(`competition ${competitionId} does not exist`);
      slug = c.slug;
      known.set(competitionId, slug);
    }
    return { serves: slugs.has(slug), slug };
  };
}

/** The evaluate, re-score, leader-ties and notify processors, with this worker's settings and parts. */
export function createProcessors(config: WorkerConfig, parts: ProcessorParts): Processors {
  const { db, engine, janitor, inputs, log } = parts;
  const bootstrap = { replicates: config.HOLDOUT_BOOTSTRAP_REPLICATES, seed: config.HOLDOUT_BOOTSTRAP_SEED };
  const workerName = config.HOLDOUT_WORKER_NAME;
  const refreshTies = tieRefresher({ db, bootstrap, queue: parts.tiesQueue });
  const notices = { db, queue: parts.notifyQueue, log };
  return {
    evaluate: withEndNotice(
      createEvaluateProcessor({
        db,
        sandbox: engine.sandbox,
        images: janitor.images,
        hiddenLog: hiddenLogPolicy(config),
        sets: inputs.sets,
        smokeLimits: smokeLimits(config),
        dataDir: config.HOLDOUT_DATA_DIR,
        runsDir: inputs.runsDir,
        runtimeImage: engine.facts.runtime,
        resolveRuntime: runtimeResolver(engine),
        turnStarted: (turn) => advanceFairClock(parts.evaluateQueue, turn),
        ...(config.HOLDOUT_WORKER_COMPETITIONS
          ? { serves: servedBy(db, new Set(config.HOLDOUT_WORKER_COMPETITIONS)) }
          : {}),
        disk: config.HOLDOUT_DISK_MIN_FREE_MB > 0 ? engine.disk : null,
        diskWaitMs: config.HOLDOUT_DISK_WAIT_SECONDS * 1000,
        workerName,
        leaseMs: config.HOLDOUT_HEARTBEAT_STALE_SECONDS * 1000,
        limits: runLimits(config),
        gpu: config.HOLDOUT_RUN_GPUS,
        labels: engine.labels,
        // An earlier attempt's containers, volume and image lease.
        reapPrevious: (id) => janitor.reap(id),
        bootstrap,
        metrics: parts.metrics,
        registry: parts.registry,
        log,
        afterScore: refreshTies,
      }),
      notices,
    ),
    rescore: createRescoreProcessor({
      db,
      sets: inputs.sets,
      bootstrap,
      workerName,
      log,
      afterRescore: refreshTies,
    }),
    ties: createLeaderTiesProcessor({ db, sets: inputs.sets, bootstrap, log }),
    notify: createNotifyProcessor({
      db,
      queue: parts.notifyQueue,
      mailer: parts.mailer,
      webhooks: {
        allowPrivate: config.HOLDOUT_WEBHOOK_ALLOW_PRIVATE,
        timeoutMs: config.HOLDOUT_WEBHOOK_TIMEOUT_SECONDS * 1000,
        attempts: config.HOLDOUT_WEBHOOK_ATTEMPTS,
        backoffMs: config.HOLDOUT_WEBHOOK_BACKOFF_MS,
      },
      publicUrl: config.HOLDOUT_PUBLIC_URL,
      log,
    }),
  };
}
