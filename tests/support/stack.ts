import { openAsBlob } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { buildApp, type TrustProxy } from "@holdout/api";
import { apiReadinessProbes } from "../../apps/api/src/routes/health.ts";
import {
  createQueue,
  isFinalState,
  isSubmissionState,
  QUEUE_EVALUATE,
  QUEUE_NOTIFY,
  type EvaluateQueue,
} from "@holdout/contracts";
import { startOpsServer } from "@holdout/contracts/ops";
import {
  createDb,
  createOrganizer,
  createTeamWithToken,
  ensureCompetition,
  issueApiToken,
  type Db,
} from "@holdout/db";
import { loadWorkerConfig, startWorker, type RunningWorker } from "@holdout/worker";
import { BASELINE_IMAGE, TEST_DATABASE_URL, TEST_REDIS_URL, TEST_TESTSET_DIR, uniqueName } from "./env.ts";
import { TEST_DEVSET_DIR } from "./global-setup.ts";

export interface Stack {
  url: string;
  /** The API's ops listener (/metrics, /healthz, /readyz), as server.ts starts it. */
  opsUrl: string;
  db: Db;
  competition: {
    id: string;
    slug: string;
    name: string;
    aucFloor: number;
    scorer: "chexpert" | "mean_auc";
    tasks: string[];
  };
  dataDir: string;
  /** The workers' HOLDOUT_WORK_DIR. */
  workDir: string;
  queue: EvaluateQueue;
  /** This stack's BullMQ prefix (its queues' Redis keys start with it). */
  prefix: string;
  /**
   * The environment of a worker for this stack (same database, Redis prefix, data dir, test and
   * development sets): for `startWorker(loadWorkerConfig(env))` or a real `apps/worker/src/main.ts`.
   */
  workerEnv(extra?: Record<string, string>): Record<string, string>;
  /** Another in-process worker on this stack (closed with the stack). */
  startWorker(extra?: Record<string, string>): Promise<RunningWorker>;
  createTeam(name?: string, institution?: string): Promise<{ id: string; token: string }>;
  /** An organizer account (as `holdout admin create` makes one) and an API token for it. */
  createOrganizer(): Promise<{ id: string; email: string; password: string; token: string }>;
  close(): Promise<void>;
}

export interface StackOptions {
  worker?: boolean;
  maxUploadBytes?: number;
  workerEnv?: Record<string, string>;
  /** Rate limits (defaults: generous); the Redis keys are always this stack's own. */
  rateLimit?: { windowMs?: number; perIp?: number; perCredential?: number; authPerIp?: number };
  bundleLimits?: { maxBytes: number; maxFiles: number };
  /** The competition's quota; tests not about quotas get room for many submissions per team. */
  quota?: { perDay: number; total: number };
  /**
   * Whether teams that register need an organizer's approval. New competitions do by default; tests
   * not about approval register and submit at once, so the stack turns it off unless asked.
   */
  requireApproval?: boolean;
  /** Which X-Forwarded-For hops to believe (the API's HOLDOUT_TRUST_PROXY). */
  trustProxy?: TrustProxy;
  maxLiveTokens?: number;
  eventStreams?: { perOwner: number; perAddress: number };
  /** The layer store of layered uploads (default: 30 days' retention, 32 GiB per team). */
  layerStore?: { retentionMs: number; maxTeamBytes: number };
  /** The competition's AUC floor (default 0.7, the official one). */
  aucFloor?: number;
  /** Webhooks may be registered on loopback (the API's HOLDOUT_WEBHOOK_ALLOW_PRIVATE). */
  webhookAllowPrivate?: boolean;
}

/**
 * A real API listening on loopback (and optionally a worker), isolated from other tests by its
 * own competition, data directory and BullMQ prefix, on the real PostgreSQL, Redis and Docker.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const db = createDb(TEST_DATABASE_URL, { poolSize: 4 });
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = uniqueName("holdout-test");
  const queue = createQueue(redis, QUEUE_EVALUATE, { prefix });
  const notifyQueue = createQueue(redis, QUEUE_NOTIFY, { prefix });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "holdout-data-"));
  // The workers' scratch space (smoke sample, bundle workspaces): not in the data dir, which holds uploads only.
  const workDir = await mkdtemp(path.join(os.tmpdir(), "holdout-work-"));
  const created = await ensureCompetition(db, { slug: uniqueName("comp"), name: "Test Competition" });
  const quota = opts.quota ?? { perDay: 1000, total: 1000 };
  const competition = await db.competition.update({
    where: { id: created.id },
    data: {
      quotaPerDay: quota.perDay,
      quotaTotal: quota.total,
      requireApproval: opts.requireApproval ?? false,
      aucFloor: opts.aucFloor ?? 0.7,
    },
  });
  const app = await buildApp({
    db,
    redis,
    queue,
    notifyQueue,
    competition,
    dataDir,
    maxUploadBytes: opts.maxUploadBytes ?? 2 * 1024 ** 3,
    // Plain http on loopback: a Secure cookie would never be sent back.
    session: { ttlMs: 3600_000, cookieSecure: false },
    rateLimit: {
      perIp: 100_000,
      perCredential: 100_000,
      authPerIp: 10_000,
      ...opts.rateLimit,
      keyPrefix: `${prefix}:rl`,
    },
    ...(opts.bundleLimits ? { bundleLimits: opts.bundleLimits } : {}),
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
    ...(opts.maxLiveTokens !== undefined ? { maxLiveTokens: opts.maxLiveTokens } : {}),
    ...(opts.eventStreams ? { eventStreams: opts.eventStreams } : {}),
    ...(opts.webhookAllowPrivate ? { webhookAllowPrivate: true } : {}),
    ...(opts.layerStore ? { layerStore: opts.layerStore } : {}),
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  const ops = await startOpsServer({
    port: 0,
    host: "127.0.0.1",
    probes: apiReadinessProbes({ db, redis }),
    metrics: app.metricsRegistry,
  });

  // Each worker of the stack gets its own name; all share the stack's queues, data and competition
  // (their reconcilers look at this competition only, so parallel test files never meet).
  let workers = 0;
  const workerEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    HOLDOUT_TESTSET_DIR: TEST_TESTSET_DIR,
    HOLDOUT_DEVSET_DIR: TEST_DEVSET_DIR,
    HOLDOUT_DATA_DIR: dataDir,
    HOLDOUT_WORK_DIR: workDir,
    HOLDOUT_QUEUE_PREFIX: prefix,
    HOLDOUT_COMPETITION: competition.slug,
    HOLDOUT_WORKER_NAME: `${prefix}-worker-${++workers}`,
    // The example image has python3, numpy and pillow: enough for the example bundle.
    HOLDOUT_RUNTIME_IMAGE: BASELINE_IMAGE,
    HOLDOUT_RUN_TIMEOUT_SECONDS: "300",
    HOLDOUT_RUN_MEMORY_MB: "1024",
    // The shared test database holds other test files' competitions, some with phases that ended on
    // purpose: a worker closing them would race those tests. tests/worker/schedule.test.ts turns it on.
    HOLDOUT_CLOSE_ENDED_COMPETITIONS: "false",
    LOG_LEVEL: "warn",
    ...opts.workerEnv,
    ...extra,
  });
  const running: RunningWorker[] = [];
  const startExtraWorker = async (extra?: Record<string, string>) => {
    const w = await startWorker(loadWorkerConfig(workerEnv(extra)));
    running.push(w);
    return w;
  };
  if (opts.worker) await startExtraWorker();

  return {
    url: address,
    opsUrl: ops.url,
    db,
    competition,
    dataDir,
    workDir,
    queue,
    prefix,
    workerEnv,
    startWorker: startExtraWorker,
    async createTeam(name = uniqueName("team"), institution = "Test University") {
      const { team, token } = await createTeamWithToken(db, {
        competitionId: competition.id,
        name,
        institution,
      });
      return { id: team.id, token };
    },
    async createOrganizer() {
      const email = `${uniqueName("organizer")}@example.org`;
      const password = "organizer-password-1";
      const account = await createOrganizer(db, { email, password });
      const { token } = await issueApiToken(db, { accountId: account.id }, "test");
      return { id: account.id, email, password, token };
    },
    async close() {
      await Promise.all(running.map((w) => w.close()));
      await ops.close();
      await app.close();
      await queue.obliterate({ force: true });
      // What BullMQ does not know to remove under the prefix: the fair share's clock and turns.
      for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<
        string[]
      >)
        if (keys.length > 0) await redis.del(...keys);
      await queue.close();
      await notifyQueue.obliterate({ force: true });
      await notifyQueue.close();
      await redis.quit();
      await db.$disconnect();
      await rm(dataDir, { recursive: true, force: true });
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** Polls the real status endpoint until the submission reaches a final state. */
export async function waitForFinal(url: string, token: string, id: string, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/api/v1/submissions/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as {
      state: string;
      failure: { category: string; message: string } | null;
    };
    if (isSubmissionState(body.state) && isFinalState(body.state))
      return body as Record<string, unknown> & typeof body;
    if (Date.now() > deadline) throw new Error(`submission ${id} still ${body.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Uploads a `docker save` tarball over real HTTP multipart, as curl would; returns the answer. */
export async function uploadImage(url: string, token: string, file: string, fields: Record<string, string>) {
  const fd = new FormData();
  for (const [name, value] of Object.entries(fields)) fd.append(name, value);
  fd.append("image", await openAsBlob(file), path.basename(file));
  const res = await fetch(`${url}/api/v1/submissions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: fd,
  });
  return { status: res.status, body: (await res.json()) as { id: string; state: string; code?: string } };
}

/** A JSON answer of the API (a problem document carries `code` and `detail`). */
export type ApiBody = Record<string, unknown> & { code?: string; detail?: string };

/** A call to the JSON API at `url`: its status and parsed body (null when empty). */
export async function callApi(
  url: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string } = {},
): Promise<{ status: number; body: ApiBody }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as ApiBody };
}
