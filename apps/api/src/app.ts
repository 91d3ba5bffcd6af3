import path from "node:path";
import { fileURLToPath } from "node:url";
import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Queue } from "bullmq";
import { Eta } from "eta";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Redis } from "ioredis";
import type { EvaluateJob } from "@holdout/contracts";
import type { Db } from "@holdout/db";
import { auth } from "./plugins/auth.ts";
import { problemJson } from "./plugins/problem-json.ts";
import healthRoutes from "./routes/health.ts";
import leaderboardRoutes from "./routes/leaderboard.ts";
import submissionRoutes from "./routes/submissions.ts";
import type { CompetitionInfo } from "./services/leaderboard.ts";

export interface AppDeps {
  db: Db;
  redis: Redis;
  queue: Queue<EvaluateJob>;
  competition: CompetitionInfo;
  dataDir: string;
  maxUploadBytes: number;
  logger?: FastifyServerOptions["logger"];
}

const VIEWS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "views");

/** Builds the API with everything it needs passed in; only server.ts listens. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: deps.logger ?? false }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(problemJson);
  // The OpenAPI document is generated from the route schemas, so it cannot drift from them.
  await app.register(swagger, {
    openapi: {
      info: { title: "Holdout API", version: "1" },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A team's API token" } },
      },
    },
  });
  app.get("/docs", { schema: { hide: true } }, () => app.swagger());
  await app.register(multipart, {
    limits: {
      fileSize: deps.maxUploadBytes,
      files: 1,
      fields: 10,
      fieldSize: 8 * 1024,
      parts: 12,
      headerPairs: 100,
    },
    throwFileSizeLimit: true,
  });
  await app.register(auth, { db: deps.db, competitionId: deps.competition.id });

  const views = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  await app.register(healthRoutes, { db: deps.db, redis: deps.redis });
  await app.register(leaderboardRoutes, { db: deps.db, competition: deps.competition, views });
  await app.register(submissionRoutes, {
    db: deps.db,
    queue: deps.queue,
    uploadsDir: path.join(deps.dataDir, "uploads"),
    competitionId: deps.competition.id,
    aucFloor: deps.competition.aucFloor,
  });
  return app;
}
