import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

/**
 * prom-client's default process metrics, less the three gauges it names `*_total`
 * (`nodejs_active_handles_total`, `nodejs_active_requests_total`, `nodejs_active_resources_total`):
 * `_total` is the counter suffix, so Prometheus's own checker (promtool) refuses them and queries
 * would take them for counters. Nothing is lost: each is the sum over `type` of its per-type gauge
 * (`sum(nodejs_active_handles)`).
 */
export const MISNAMED_DEFAULT_GAUGES = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
}

/** What the queue gauge needs of a BullMQ queue. */
export interface CountedQueue {
  name: string;
  getJobCounts(...states: QueueJobState[]): Promise<Record<string, number>>;
}

const QUEUE_JOB_STATES = [
  "waiting",
  "active",
  "delayed",
  "prioritized",
  "waiting-children",
  "failed",
  "completed",
] as const;
type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

/**
 * `holdout_queue_jobs{queue,state}`: the jobs in each queue by state, counted in Redis at each
 * scrape. The API and the worker both serve it, the same series from either.
 */
export function registerQueueJobsGauge(registry: Registry, queues: readonly CountedQueue[]): void {
  new Gauge({
    name: "holdout_queue_jobs",
    help: "Jobs in each BullMQ queue, by state (waiting, active, delayed, failed, ...)",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        const counts = await queue.getJobCounts(...QUEUE_JOB_STATES);
        for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
      }
    },
  });
}
