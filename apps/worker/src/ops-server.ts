import { startOpsServer as startOps, type OpsServer } from "@holdout/contracts/ops";
import { pingDatabase, type Db } from "@holdout/db";
import type { Logger } from "./logger.ts";
import type { WorkerMetrics } from "./metrics.ts";

export type { OpsServer };

/**
 * The worker's operations endpoints (the shared ops listener): /healthz, /readyz (PostgreSQL,
 * Redis and the Docker engine all answer) and /metrics (this worker's, metrics.ts).
 */
export interface WorkerOpsOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Default loopback; a container gives 0.0.0.0 (the Compose healthcheck, Prometheus). */
  host?: string;
  db: Db;
  redis: { ping(): Promise<unknown> };
  docker: { ping(): Promise<unknown> };
  metrics: WorkerMetrics;
  log?: Pick<Logger, "warn" | "error">;
  /** A dependency that has not answered after this long counts as down; default 2 s. */
  timeoutMs?: number;
}

export function startOpsServer(opts: WorkerOpsOptions): Promise<OpsServer> {
  return startOps({
    port: opts.port,
    host: opts.host ?? "127.0.0.1",
    probes: [
      ["postgres", () => pingDatabase(opts.db)],
      ["redis", () => opts.redis.ping()],
      ["docker", () => opts.docker.ping()],
    ],
    metrics: opts.metrics.registry,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
}
