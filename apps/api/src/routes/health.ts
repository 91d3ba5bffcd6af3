import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { Redis } from "ioredis";
import type { Db } from "@holdout/db";
import { sendProblem } from "../plugins/problem-json.ts";

const healthRoutes: FastifyPluginCallbackTypebox<{ db: Db; redis: Redis }> = (app, { db, redis }, done) => {
  app.get("/healthz", { schema: { hide: true } }, () => ({ status: "ok" }));

  // Ready when both stores answer; a load balancer stops sending uploads otherwise.
  app.get("/readyz", { schema: { hide: true } }, async (request, reply) => {
    const problems: string[] = [];
    await db.$queryRaw`SELECT 1`.catch((err: unknown) => problems.push(`postgres: ${String(err)}`));
    await redis.ping().catch((err: unknown) => problems.push(`redis: ${String(err)}`));
    if (problems.length === 0) return { status: "ready" };
    request.log.warn({ problems }, "not ready");
    return sendProblem(reply, request, {
      status: 503,
      code: "HOLDOUT_ERR_NOT_READY",
      detail: `not ready: ${problems.map((p) => p.split(":")[0]).join(", ")} unreachable`,
    });
  });
  done();
};

export default healthRoutes;
