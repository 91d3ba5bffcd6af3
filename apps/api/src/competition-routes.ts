import type { FastifyInstance } from "fastify";
import type { Eta } from "eta";
import accountRoutes from "./routes/accounts.ts";
import competitionAdminRoutes from "./routes/admin-competition.ts";
import competitionPageRoutes from "./routes/competition-page.ts";
import adminBaselineRoutes from "./routes/admin-baselines.ts";
import adminRoutes from "./routes/admin.ts";
import finalsRoutes from "./routes/finals.ts";
import leaderboardRoutes, { leaderboardCsvRoutes } from "./routes/leaderboard.ts";
import notificationRoutes from "./routes/notifications.ts";
import submissionDetailRoutes from "./routes/submission-details.ts";
import submissionRoutes from "./routes/submissions.ts";
import layerRoutes from "./routes/layers.ts";
import uploadRoutes from "./routes/uploads.ts";
import type { AppDeps } from "./app.ts";
import { competitionPageSource } from "./services/competition-page.ts";
import { createBaselineService } from "./services/baselines.ts";
import { EventHub } from "./services/events-hub.ts";
import { createIntake } from "./services/intake.ts";
import { createNotificationService } from "./services/notifications.ts";
import { createLayeredIntake } from "./services/layered-intake.ts";
import { startLayerSweeper } from "./services/layer-sweep.ts";
import { cachedLeaderboard, type CompetitionInfo } from "./services/leaderboard.ts";
import { createOrganizerService } from "./services/organizer.ts";
import { streamSlots } from "./services/stream-slots.ts";
import { webPages } from "./web/index.ts";
import type { CompetitionBase } from "./services/competition-base.ts";

export { competitionBase, DEFAULT_BASE, type CompetitionBase } from "./services/competition-base.ts";

export const DEFAULT_BUNDLE_LIMITS = { maxBytes: 4 * 1024 ** 3, maxFiles: 20_000 };
export const DEFAULT_MAX_LIVE_TOKENS = 10;
export const DEFAULT_EVENT_STREAMS = { perOwner: 10, perAddress: 20 };
export const DEFAULT_SESSION_TTL_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_LAYER_STORE = { retentionMs: 30 * 24 * 3600_000, maxTeamBytes: 32 * 1024 ** 3 };

/**
 * Registers everything that belongs to one competition: its leaderboard, accounts, uploads,
 * submissions, organizer routes and pages, each service built for it. The same plugins serve every
 * competition, so a rule is written once; what differs is only the competition and the base.
 */
export async function registerCompetition(
  app: FastifyInstance,
  deps: AppDeps,
  competition: CompetitionInfo,
  base: CompetitionBase,
  views: Eta,
  rateLimitKeyPrefix: string,
): Promise<void> {
  const API = { prefix: base.api };
  const board = cachedLeaderboard(deps.db, competition);
  await app.register(leaderboardRoutes, { ...API, board, competition });
  await app.register(leaderboardCsvRoutes, { prefix: base.pages, board, competition });
  await app.register(accountRoutes, {
    ...API,
    db: deps.db,
    competitionId: competition.id,
    sessionTtlMs: deps.session?.ttlMs ?? DEFAULT_SESSION_TTL_MS,
    cookie: { secure: deps.session?.cookieSecure ?? true },
    maxLiveTokens: deps.maxLiveTokens ?? DEFAULT_MAX_LIVE_TOKENS,
  });
  const organizer = createOrganizerService({
    db: deps.db,
    competitionId: competition.id,
    evaluateQueue: deps.queue,
    redis: deps.redis,
  });
  app.addHook("onClose", () => organizer.close());
  const reservationTtlMs = deps.reservationTtlMs ?? 6 * 3600 * 1000;
  // One intake for multipart and resumable uploads alike (docs/architecture.md, "A submission's path").
  const intake = createIntake({
    db: deps.db,
    queue: deps.queue,
    dataDir: deps.dataDir,
    competitionId: competition.id,
    bundleLimits: deps.bundleLimits ?? DEFAULT_BUNDLE_LIMITS,
    reservationTtlMs,
  });
  await app.register(submissionRoutes, {
    ...API,
    db: deps.db,
    competitionId: competition.id,
    aucFloor: competition.aucFloor,
    intake,
    organizer,
  });
  await app.register(finalsRoutes, { ...API, db: deps.db });
  const notifications = createNotificationService({
    db: deps.db,
    allowPrivate: deps.webhookAllowPrivate ?? false,
  });
  await app.register(notificationRoutes, { ...API, notifications });
  await app.register(uploadRoutes, {
    ...API,
    db: deps.db,
    dataDir: deps.dataDir,
    competitionId: competition.id,
    maxUploadBytes: deps.maxUploadBytes,
    intake,
    reservationTtlMs,
    sweepIntervalMs: deps.uploadSweepIntervalMs ?? 10 * 60_000,
  });
  // Layered uploads: only the layers a team's store lacks travel (services/layered-intake.ts).
  const layerStore = deps.layerStore ?? DEFAULT_LAYER_STORE;
  const layered = createLayeredIntake({
    db: deps.db,
    dataDir: deps.dataDir,
    competitionId: competition.id,
    intake,
    maxUploadBytes: deps.maxUploadBytes,
    limits: {
      maxLayerBytes: deps.maxUploadBytes,
      maxTeamBytes: layerStore.maxTeamBytes,
      maxCompressionRatio: 100,
    },
  });
  await app.register(layerRoutes, { ...API, intake, layered });
  const stopLayerSweeper = startLayerSweeper(
    deps.db,
    deps.dataDir,
    layerStore.retentionMs,
    deps.uploadSweepIntervalMs ?? 10 * 60_000,
    app.log,
  );
  app.addHook("onClose", () => stopLayerSweeper());
  const events = new EventHub(deps.db, competition.id, {
    intervalMs: deps.eventsPollMs ?? 1000,
    onError: (err) => app.log.error({ err }, "reading submission events failed"),
  });
  app.decorate("submissionEvents", events);
  // Before the server closes: open streams would keep it waiting.
  app.addHook("preClose", () => events.close());
  await app.register(submissionDetailRoutes, {
    ...API,
    db: deps.db,
    competitionId: competition.id,
    aucFloor: competition.aucFloor,
    events,
    queue: deps.queue,
    notifyQueue: deps.notifyQueue,
    streamSlot: streamSlots(deps.redis, {
      ...(deps.eventStreams ?? DEFAULT_EVENT_STREAMS),
      keyPrefix: `${rateLimitKeyPrefix}:streams`,
    }),
  });
  await app.register(adminRoutes, { ...API, db: deps.db, competitionId: competition.id, organizer });
  const baselines = createBaselineService({ db: deps.db, competitionId: competition.id, intake });
  await app.register(adminBaselineRoutes, { ...API, competitionId: competition.id, baselines });
  await app.register(competitionAdminRoutes, {
    ...API,
    db: deps.db,
    competitionId: competition.id,
    slug: competition.slug,
    organizer,
  });
  const page = competitionPageSource({
    db: deps.db,
    competitionId: competition.id,
    base,
    maxUploadBytes: deps.maxUploadBytes,
    bundleLimits: deps.bundleLimits ?? DEFAULT_BUNDLE_LIMITS,
  });
  await app.register(competitionPageRoutes, { ...API, db: deps.db, competitionId: competition.id, page });
  await app.register(webPages, {
    page,
    prefix: base.pages,
    base,
    db: deps.db,
    views,
    competition,
    board,
    organizer,
    baselines,
    session: {
      ttlMs: deps.session?.ttlMs ?? DEFAULT_SESSION_TTL_MS,
      cookie: { secure: deps.session?.cookieSecure ?? true },
    },
    maxLiveTokens: deps.maxLiveTokens ?? DEFAULT_MAX_LIVE_TOKENS,
    notifications,
  });
}
