import type { Job, Queue } from "bullmq";
import type { AnyWorker } from "@holdout/contracts";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { collectProcessMetrics, registerQueueJobsGauge } from "@holdout/contracts/ops";

/**
 * This worker process's own Prometheus metrics, served by the ops server (ops-server.ts). They count
 * what this process did; the competition-wide figures (every worker's runs, from PostgreSQL) are the
 * API's /metrics.
 */
export type RunPhaseLabel = "smoke" | "hidden";

const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
const LOAD_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

export interface WorkerMetrics {
  registry: Registry;
  /** A model run (one phase) ended: `outcome` is "ok" or the failure category. */
  runFinished(run: { phase: RunPhaseLabel; outcome: string; seconds: number }): void;
  /** An uploaded image was validated and loaded into the engine. */
  imageLoaded(load: { seconds: number; bytes?: number }): void;
  /** A submission went back to the queue because this worker's disks were short of space. */
  deferredForSpace(): void;
  /** Counts this BullMQ worker's jobs (by queue and result), their durations, and those running. */
  watch(worker: AnyWorker): void;
}

export function createWorkerMetrics(opts: { queues?: Queue[] } = {}): WorkerMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);

  const runs = new Counter({
    name: "holdout_worker_runs_total",
    help: "Model runs this worker finished, by phase and outcome (ok, or the failure category)",
    labelNames: ["phase", "outcome"] as const,
    registers: [registry],
  });
  const runSeconds = new Histogram({
    name: "holdout_worker_run_duration_seconds",
    help: "Model run duration in the sandbox, by phase",
    labelNames: ["phase"] as const,
    buckets: RUN_BUCKETS,
    registers: [registry],
  });
  const loadSeconds = new Histogram({
    name: "holdout_worker_image_load_seconds",
    help: "Validating and loading an uploaded image into the Docker engine",
    buckets: LOAD_BUCKETS,
    registers: [registry],
  });
  const loadedBytes = new Counter({
    name: "holdout_worker_image_loaded_bytes_total",
    help: "Bytes of image tarballs loaded into the Docker engine",
    registers: [registry],
  });
  const deferred = new Counter({
    name: "holdout_worker_deferred_for_space_total",
    help: "Submissions this worker put back in the queue, uncharged, for want of free disk space",
    registers: [registry],
  });
  const jobs = new Counter({
    name: "holdout_worker_jobs_total",
    help: "BullMQ jobs this worker finished, by queue and result (completed, failed)",
    labelNames: ["queue", "result"] as const,
    registers: [registry],
  });
  const jobSeconds = new Histogram({
    name: "holdout_worker_job_duration_seconds",
    help: "BullMQ job duration, from the worker taking it to its end, by queue",
    labelNames: ["queue"] as const,
    buckets: RUN_BUCKETS,
    registers: [registry],
  });
  const running = new Gauge({
    name: "holdout_worker_jobs_running",
    help: "Jobs this worker is processing now",
    labelNames: ["queue"] as const,
    registers: [registry],
  });
  registerQueueJobsGauge(registry, opts.queues ?? []);

  const ended = (queue: string, job: Job | undefined, result: "completed" | "failed") => {
    jobs.inc({ queue, result });
    running.dec({ queue });
    if (job?.processedOn && job.finishedOn)
      jobSeconds.observe({ queue }, (job.finishedOn - job.processedOn) / 1000);
  };

  return {
    registry,
    runFinished({ phase, outcome, seconds }) {
      runs.inc({ phase, outcome });
      runSeconds.observe({ phase }, seconds);
    },
    imageLoaded({ seconds, bytes }) {
      loadSeconds.observe(seconds);
      if (bytes !== undefined) loadedBytes.inc(bytes);
    },
    deferredForSpace() {
      deferred.inc();
    },
    watch(worker) {
      const queue = worker.name;
      running.set({ queue }, 0);
      worker.on("active", () => running.inc({ queue }));
      worker.on("completed", (job) => ended(queue, job, "completed"));
      worker.on("failed", (job) => ended(queue, job, "failed"));
    },
  };
}
