import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { Redis } from "ioredis";
import { checkReadiness, type ReadinessProbe } from "@holdout/contracts";
import { pingDatabase, type Db } from "@holdout/db";
import { sendProblem } from "../plugins/problem-json.ts";

export interface HealthOptions {
  db: Db;
  redis: Redis;
  /**
   * The API runs no containers, so it has no Docker engine to check; a deployment that gives it one
   * (to report on the workers' engine, say) passes it here and /readyz checks it too.
   */
  docker?: { ping(): Promise<unknown> };
  /** A dependency that has not answered after this long counts as down; default 2 s. */
  timeoutMs?: number;
}

/**
 * /healthz: the process is alive (no dependency checked: a restart would not fix a database).
 * /readyz: PostgreSQL and Redis answer (and the Docker engine, when given), checked at once, each
 * bounded in time; a load balancer stops sending uploads to an API that is not ready.
 */
/** What the API's readiness depends on: its route here, and the ops listener's /readyz. */
export function apiReadinessProbes(opts: Pick<HealthOptions, "db" | "redis" | "docker">): ReadinessProbe[] {
  const probes: ReadinessProbe[] = [
    ["postgres", () => pingDatabase(opts.db)],
    ["redis", () => opts.redis.ping()],
  ];
  const { docker } = opts;
  if (docker) probes.push(["docker", () => docker.ping()]);
  return probes;
}

const healthRoutes: FastifyPluginCallbackTypebox<HealthOptions> = (app, opts, done) => {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const probes = apiReadinessProbes(opts);

  app.get("/healthz", { schema: { hide: true } }, () => ({ status: "ok" }));

  app.get("/readyz", { schema: { hide: true } }, async (request, reply) => {
    const { ready, checks, down } = await checkReadiness(probes, timeoutMs);
    if (ready) return { status: "ready", checks };
    request.log.warn({ problems: down }, "not ready");
    // Which dependency is down, not why: the reasons (addresses, messages) stay in the log.
    return sendProblem(reply, request, {
      status: 503,
      code: "HOLDOUT_ERR_NOT_READY",
      detail: `not ready: ${down.map((r) => r.name).join(", ")} unreachable`,
    });
  });
  done();
};

export default healthRoutes;
