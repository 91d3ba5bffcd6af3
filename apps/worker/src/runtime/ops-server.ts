import type { ReadinessProbe } from "@holdout/contracts";
import { startOpsServer as startOps, type OpsServer } from "@holdout/contracts/ops";
import { pingDatabase, type Db } from "@holdout/db";
import type { WorkerConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { WorkerMetrics } from "./metrics.ts";

export type { OpsServer };

/**
 * The worker's operations endpoints (the shared ops listener): /healthz, /readyz (PostgreSQL,
 * Redis and the Docker engine all answer, the images it pinned at start are still there, and its
 * disks have their reserve free; with the engine's image store, those image IDs and the free space)
 * and /metrics (this worker's, metrics.ts).
 */
export interface WorkerOpsOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Default loopback; a container gives 0.0.0.0 (the Compose healthcheck, Prometheus). */
  host?: string;
  db: Db;
  redis: { ping(): Promise<unknown> };
  docker: { ping(): Promise<unknown> };
  /** Resolves while the keeper and runtime images the worker pinned at start are on the engine. */
  images?: () => Promise<unknown>;
  /** Resolves while the engine's data root and the work dir have their reserve free. */
  disk?: () => Promise<unknown>;
  /** Added to /readyz's answer: the engine's image store, the pinned image IDs, free space. */
  details?: () => Promise<Record<string, unknown>>;
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
      ...(opts.images ? [["images", opts.images, "missing"] satisfies ReadinessProbe] : []),
      ...(opts.disk ? [["disk", opts.disk, "low on free space"] satisfies ReadinessProbe] : []),
    ],
    ...(opts.details ? { details: opts.details } : {}),
    metrics: opts.metrics.registry,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
}

/** The ops listener on HOLDOUT_OPS_PORT and HOLDOUT_OPS_HOST; null when no port is configured. */
export async function opsFor(
  config: WorkerConfig,
  opts: Omit<WorkerOpsOptions, "port" | "host">,
): Promise<OpsServer | null> {
  if (config.HOLDOUT_OPS_PORT === undefined) return null;
  return startOpsServer({ ...opts, port: config.HOLDOUT_OPS_PORT, host: config.HOLDOUT_OPS_HOST });
}
