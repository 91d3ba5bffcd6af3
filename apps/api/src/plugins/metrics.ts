import type { Queue } from "bullmq";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import { FAILURE_CATEGORIES, FINAL_STATES, SUBMISSION_STATES } from "@holdout/contracts";
import { collectProcessMetrics, registerQueueJobsGauge } from "@holdout/contracts/ops";
import { readCompetitionFigures, type CompetitionFigures, type Db } from "@holdout/db";

declare module "fastify" {
  interface FastifyInstance {
    /** The API's Prometheus registry, served at /metrics by the ops listener (server.ts). */
    metricsRegistry: Registry;
    apiMetrics: ApiMetrics;
  }
}

/**
 * The API's Prometheus metrics, served at /metrics on the ops listener, never on the public port.
 *
 * Measured in this process: HTTP latency by route and status, and body bytes read on upload routes.
 * Read at scrape time: queue depth (BullMQ, shared by every process), and from PostgreSQL the
 * submissions by state, the runs by outcome and the run-duration histogram. Those come from the
 * database on purpose: it is the truth shared by every worker on every host, so any API replica
 * answers the same figures, they survive restarts, and a run done by a worker this process never
 * heard of still counts. They are cached for `cacheMs` so that several scrapers (or a scrape storm)
 * cost PostgreSQL one set of aggregate queries per interval, not one per scrape.
 */
export interface MetricsOptions {
  db: Db;
  /** The competition this API serves: the database figures are its own. */
  competitionId: string;
  /** Queues whose depth is reported (the evaluate queue, and any other this API enqueues to). */
  queues: Queue[];
  /** How long database figures are reused; default 10 s. */
  cacheMs?: number;
}

export const RUN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600];

/** Routes whose request bodies are uploads (a model tarball, a bundle, or a resumable chunk). */
export function isUploadRoute(method: string, url: string): boolean {
  // A competition's scope (/api/v1/competitions/{slug}/…) has the same upload routes.
  const route = url.replace(/^\/api\/v1\/competitions\/[^/]+\//, "/api/v1/");
  if (method === "POST" && route === "/api/v1/submissions") return true;
  return (method === "PATCH" || method === "POST") && route.startsWith("/api/v1/uploads");
}

/**
 * A histogram whose buckets are computed elsewhere (in SQL): prom-client's Histogram only counts
 * observations it saw, so this hands the registry the same shape it prints for one.
 */
function precomputedHistogram(
  name: string,
  help: string,
  read: () => Promise<CompetitionFigures["durations"]>,
): Metric {
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    async get() {
      const found = await read();
      // Every final state, those without a run yet as zeros.
      const rows = FINAL_STATES.map(
        (state) =>
          found.find((r) => r.state === state) ?? {
            state,
            count: 0,
            sum: 0,
            buckets: RUN_DURATION_BUCKETS.map(() => 0),
          },
      );
      const values = rows.flatMap((row) => [
        ...RUN_DURATION_BUCKETS.map((le, i) => ({
          metricName: `${name}_bucket`,
          labels: { state: row.state, le },
          value: row.buckets[i] ?? 0,
        })),
        { metricName: `${name}_bucket`, labels: { state: row.state, le: "+Inf" }, value: row.count },
        { metricName: `${name}_sum`, labels: { state: row.state }, value: row.sum },
        { metricName: `${name}_count`, labels: { state: row.state }, value: row.count },
      ]);
      return { name, help, type: "histogram", aggregator: "sum", values };
    },
  };
  return metric as unknown as Metric;
}

/** Builds the registry and the hooks; exported for the tests and the worker-free bench. */
export function createApiMetrics(opts: MetricsOptions) {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const cacheMs = opts.cacheMs ?? 10_000;

  let cached: { at: number; figures: Promise<CompetitionFigures> } | undefined;
  const dbFigures = (): Promise<CompetitionFigures> => {
    if (!cached || Date.now() - cached.at > cacheMs) {
      const figures = readCompetitionFigures(opts.db, opts.competitionId, RUN_DURATION_BUCKETS);
      cached = { at: Date.now(), figures };
      // A failed read is not cached: the next scrape tries again.
      figures.catch(() => (cached = undefined));
    }
    return cached.figures;
  };

  const httpDuration = new Histogram({
    name: "holdout_http_request_duration_seconds",
    help: "HTTP request latency, by route template, method and status",
    labelNames: ["method", "route", "status_code"] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const uploadedBytes = new Counter({
    name: "holdout_uploaded_bytes_total",
    help: "Request body bytes read on upload routes, counted as they arrive (an interrupted upload counts what arrived)",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  registerQueueJobsGauge(registry, opts.queues);
  new Gauge({
    name: "holdout_submissions",
    help: "Submissions of this competition, by state (from PostgreSQL)",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const { byState } = await dbFigures();
      this.reset();
      // Every state, 0 included: a series that vanishes at 0 cannot be told from one never scraped.
      for (const state of SUBMISSION_STATES) this.set({ state }, 0);
      for (const { state, n } of byState) this.set({ state }, n);
    },
  });
  new Counter({
    name: "holdout_runs_total",
    help: "Finished submissions by outcome: scored, cancelled, or the failure category (from PostgreSQL)",
    labelNames: ["outcome"] as const,
    registers: [registry],
    async collect() {
      const { byOutcome } = await dbFigures();
      this.reset();
      for (const outcome of ["scored", "cancelled", ...FAILURE_CATEGORIES]) this.inc({ outcome }, 0);
      for (const { outcome, n } of byOutcome) this.inc({ outcome }, n);
    },
  });
  new Gauge({
    name: "holdout_workers_alive",
    help: "Workers whose heartbeat is less than 2 minutes old (from PostgreSQL)",
    registers: [registry],
    async collect() {
      this.set((await dbFigures()).workersAlive);
    },
  });
  registry.registerMetric(
    precomputedHistogram(
      "holdout_run_duration_seconds",
      "From a run's start to its final state, by final state (from PostgreSQL)",
      async () => (await dbFigures()).durations,
    ),
  );

  return {
    registry,
    onRequest(request: FastifyRequest) {
      const route = request.routeOptions.url;
      if (!route || !isUploadRoute(request.method, route)) return;
      // Counted as whoever reads the body (multipart, tus) takes it: a 'data' listener sees every
      // chunk read, so a broken-off upload counts what arrived and headers never count. Paused
      // first: on a fresh stream the listener would start the flow before its reader is there.
      const body = request.raw;
      body.pause();
      body.on("data", (chunk: Buffer) => uploadedBytes.inc({ route }, chunk.length));
    },
    onResponse(request: FastifyRequest, statusCode: number, elapsedMs: number) {
      const route = request.routeOptions.url ?? "(unmatched)";
      httpDuration.observe(
        { method: request.method, route, status_code: String(statusCode) },
        elapsedMs / 1000,
      );
    },
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/**
 * Counts every request and upload into `opts.shared` when given (a competition's own server
 * instance counts into the main one's registry: one /metrics for the process), else into new ones.
 */
export const metrics = fp(
  (
    app: FastifyInstance,
    opts: MetricsOptions & { shared?: ApiMetrics; handedOver?: (request: FastifyRequest) => boolean },
    done: (err?: Error) => void,
  ) => {
    const m = opts.shared ?? createApiMetrics(opts);
    // A request handed to a competition's own instance is counted there, once.
    const counted = (request: FastifyRequest) => !opts.handedOver?.(request);
    app.addHook("onRequest", (request, _reply, next) => {
      if (counted(request)) m.onRequest(request);
      next();
    });
    app.addHook("onResponse", (request, reply, next) => {
      if (counted(request)) m.onResponse(request, reply.statusCode, reply.elapsedTime);
      next();
    });
    app.decorate("metricsRegistry", m.registry);
    app.decorate("apiMetrics", m);
    done();
  },
  { name: "metrics" },
);
