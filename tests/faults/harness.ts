import { readdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FINAL_STATES, type SubmissionState } from "@holdout/contracts";
import { createDb, createTeamWithToken, ensureCompetition, type Db } from "@holdout/db";
import { TEST_TESTSET_DIR, uniqueName } from "../support/env.ts";
import {
  labelledObjects,
  removeLabelled,
  runCommand,
  startPrivatePostgres,
  startPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
} from "../support/faults.ts";
import {
  startApiProcess,
  startWorkerProcess,
  type ApiProc,
  type Cleanup,
  type Proc,
} from "../support/processes.ts";
import { uploadImage } from "../support/stack.ts";
import { leaseTagsOf } from "../support/images.ts";

/**
 * A whole Holdout as real processes: one API and any number of workers (`node --import tsx …`),
 * on the PostgreSQL, Redis and Docker engine given (shared or private), isolated from everything
 * else by its own competition, queue prefix, data directory and worker names. State is read
 * straight from PostgreSQL, so a test can watch it while the API itself is down.
 */
export interface SystemOptions {
  databaseUrl: string;
  redisUrl: string;
  /** The Docker engine's socket; the default engine when absent. */
  dockerSocket?: string;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
}

export interface SubmissionRow {
  id: string;
  state: SubmissionState;
  failureCategory: string | null;
  failureMessage: string | null;
  refunded: boolean;
  attempts: number;
  createdAt: Date;
  finishedAt: Date | null;
}

export class System {
  readonly prefix = uniqueName("faults");
  readonly workers = new Map<string, Proc>();
  api: ApiProc | null = null;
  private constructor(
    readonly opts: SystemOptions,
    readonly db: Db,
    readonly competitionId: string,
    readonly slug: string,
    readonly dataDir: string,
  ) {}

  static async create(opts: SystemOptions): Promise<System> {
    const db = createDb(opts.databaseUrl, { poolSize: 4 });
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "holdout-faults-data-"));
    const slug = uniqueName("faults");
    const created = await ensureCompetition(db, { slug, name: "Fault injection" });
    await db.competition.update({ where: { id: created.id }, data: { quotaPerDay: 1000, quotaTotal: 1000 } });
    return new System(opts, db, created.id, slug, dataDir);
  }

  /** The label every sandbox object of worker `name` carries. */
  workerLabel(name: string): string {
    return `holdout.worker=${this.workerName(name)}`;
  }

  workerName(name: string): string {
    return `${this.prefix}-${name}`;
  }

  async startApi(): Promise<ApiProc> {
    this.api = await startApiProcess(`api:${this.prefix}`, {
      DATABASE_URL: this.opts.databaseUrl,
      REDIS_URL: this.opts.redisUrl,
      HOLDOUT_DATA_DIR: this.dataDir,
      HOLDOUT_COMPETITION: this.slug,
      HOLDOUT_QUEUE_PREFIX: this.prefix,
      HOLDOUT_COOKIE_SECURE: "false",
      HOLDOUT_RATE_LIMIT_PER_IP: "100000",
      HOLDOUT_RATE_LIMIT_PER_TOKEN: "100000",
      LOG_LEVEL: "info",
      ...this.opts.apiEnv,
    });
    return this.api;
  }

  /** Starts worker `name` (a restart under the same name is the same worker, as after a crash). */
  async startWorker(name: string, env: Record<string, string> = {}): Promise<Proc> {
    if (this.workers.get(name)?.isRunning()) throw new Error(`worker ${name} is already running`);
    const proc = await startWorkerProcess(`worker:${this.workerName(name)}`, {
      DATABASE_URL: this.opts.databaseUrl,
      REDIS_URL: this.opts.redisUrl,
      HOLDOUT_TESTSET_DIR: TEST_TESTSET_DIR,
      HOLDOUT_DATA_DIR: this.dataDir,
      HOLDOUT_QUEUE_PREFIX: this.prefix,
      HOLDOUT_WORKER_NAME: this.workerName(name),
      HOLDOUT_RUN_TIMEOUT_SECONDS: "120",
      HOLDOUT_RUN_MEMORY_MB: "1024",
      // Only this system's submissions are its reconciler's business.
      HOLDOUT_COMPETITION: this.slug,
      HOLDOUT_WORK_DIR: this.workDir,
      // Failure detection scaled down from minutes to seconds (the same rules, sooner).
      HOLDOUT_HEARTBEAT_SECONDS: "2",
      HOLDOUT_HEARTBEAT_STALE_SECONDS: "10",
      HOLDOUT_RECONCILE_INTERVAL_SECONDS: "3",
      HOLDOUT_JOB_LOCK_SECONDS: "15",
      LOG_LEVEL: "info",
      ...(this.opts.dockerSocket ? { DOCKER_SOCKET: this.opts.dockerSocket } : {}),
      ...this.opts.workerEnv,
      ...env,
    });
    this.workers.set(name, proc);
    return proc;
  }

  async createTeam(): Promise<{ id: string; token: string }> {
    const { team, token } = await createTeamWithToken(this.db, {
      competitionId: this.competitionId,
      name: uniqueName("team"),
      institution: "Fault University",
    });
    return { id: team.id, token };
  }

  /** Uploads over real HTTP to the API process; returns the submission id (202 expected). */
  async submit(token: string, file: string, model = uniqueName("model")): Promise<string> {
    if (!this.api) throw new Error("the API is not running");
    const { status, body } = await uploadImage(this.api.url, token, file, { model });
    if (status !== 202) throw new Error(`upload answered ${status}: ${JSON.stringify(body)}`);
    return body.id;
  }

  /** The team's quota as the API reports it (reservations of uploads in progress included). */
  async quota(token: string): Promise<{ usedInWindow: number; usedTotal: number; remaining: number }> {
    if (!this.api) throw new Error("the API is not running");
    const res = await fetch(`${this.api.url}/api/v1/quota`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`GET /api/v1/quota answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as { usedInWindow: number; usedTotal: number; remaining: number };
  }

  /** The submission as stored, or null while the database cannot be reached. */
  async row(id: string): Promise<SubmissionRow | null> {
    try {
      return await this.db.submission.findUnique({
        where: { id },
        select: {
          id: true,
          state: true,
          failureCategory: true,
          failureMessage: true,
          refunded: true,
          attempts: true,
          createdAt: true,
          finishedAt: true,
        },
      });
    } catch {
      return null; // the database is being restarted: ask again
    }
  }

  async waitFor<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== null && value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async waitForFinal(id: string, timeoutMs = 240_000): Promise<SubmissionRow> {
    return this.waitFor(
      `submission ${id} to reach a final state (${await this.describe(id)})`,
      async () => {
        const row = await this.row(id);
        return row && FINAL_STATES.includes(row.state) ? row : null;
      },
      timeoutMs,
    );
  }

  /**
   * Waits until the model of submission `id` is running: its state is `running` in PostgreSQL and
   * its model container is up on the engine. Returns the container's name.
   */
  async waitForModelRunning(id: string, timeoutMs = 120_000): Promise<string> {
    const host = this.opts.dockerSocket ? ["-H", `unix://${this.opts.dockerSocket}`] : [];
    return this.waitFor(
      `the model of ${id} to be running`,
      async () => {
        const row = await this.row(id);
        if (row?.state !== "running") return null;
        const out = await runCommand("docker", [
          ...host,
          "ps",
          "--filter",
          `label=holdout.submission=${id}`,
          "--filter",
          "label=holdout.role=model",
          "--filter",
          "status=running",
          "--format",
          "{{.Names}}",
        ]);
        return out.trim().split("\n")[0] || null;
      },
      timeoutMs,
    );
  }

  /** The timeline, one line per event, for assertions and failure messages. */
  async timeline(id: string): Promise<string[]> {
    const events = await this.db.submissionEvent.findMany({
      where: { submissionId: id },
      orderBy: { id: "asc" },
    });
    return events.map((e) => `${e.state}${e.worker ? ` [${e.worker}]` : ""}: ${e.detail ?? ""}`);
  }

  /**
   * Whether the timeline says why a run started again (a retry after a fault, a re-queue, a run
   * handed back), rather than only showing "evaluation started" twice.
   */
  async explainsRestart(id: string): Promise<boolean> {
    const timeline = await this.timeline(id);
    const runs = timeline.flatMap((l, i) => (l.startsWith("running") ? [i] : []));
    const between = timeline.slice(runs[0] ?? 0, runs.at(-1) ?? 0).concat(timeline[runs.at(-1) ?? 0] ?? "");
    return between.some((l) =>
      /again|restart|retr(y|ied)|re-?queue|handed back|infrastructure|fault/i.test(l),
    );
  }

  async describe(id: string): Promise<string> {
    const row = await this.row(id);
    const timeline = await this.timeline(id).catch(() => []);
    return `state ${row?.state ?? "?"}; timeline:\n  ${timeline.join("\n  ")}`;
  }

  async taskResults(id: string): Promise<number> {
    return this.db.taskResult.count({ where: { submissionId: id } });
  }

  /** Sandbox leftovers of this system's workers on its engine. */
  async leftovers(): Promise<string[]> {
    const found: string[] = [];
    for (const name of this.workers.keys()) {
      const { containers, volumes } = await labelledObjects(this.workerLabel(name), this.opts.dockerSocket);
      found.push(...containers.map((c) => `container ${c}`), ...volumes.map((v) => `volume ${v}`));
    }
    return found;
  }

  /** The workers' scratch directory (smoke samples, bundle workspaces). */
  get workDir(): string {
    return `${this.dataDir}-work`;
  }

  /** Every file under the data directory (uploads, partial uploads), relative to it. */
  async dataFiles(): Promise<string[]> {
    const entries = await readdir(this.dataDir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => !e.isDirectory())
      .map((e) => path.relative(this.dataDir, path.join(e.parentPath, e.name)))
      .sort();
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the data dir. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    const step = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
      }
    };
    for (const proc of this.workers.values()) await step(() => proc.stop("SIGTERM", 20_000));
    await step(async () => this.api?.stop("SIGTERM", 10_000));
    await step(() => this.db.$disconnect());
    await step(() => rm(this.dataDir, { recursive: true, force: true }));
    await step(() => rm(this.workDir, { recursive: true, force: true }));
    if (failures.length > 0) throw new AggregateError(failures, "closing the system failed");
  }
}

export interface Isolated {
  system: System;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
}

/**
 * A System on a private PostgreSQL and a private Redis. Private even for faults that do not touch
 * them: a worker's reconciler re-enqueues any `queued`/`running` submission it finds in its
 * database, so a stranded submission of ours in the shared database could be picked up by another
 * test's worker (and theirs by ours).
 */
export async function startIsolated(cleanup: Cleanup, opts: Partial<SystemOptions> = {}): Promise<Isolated> {
  const [postgres, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
  cleanup.add("private postgres", () => postgres.close());
  cleanup.add("private redis", () => redis.close());
  const system = await System.create({ databaseUrl: postgres.url, redisUrl: redis.url, ...opts });
  cleanup.add("sandbox leftovers", async () => {
    for (const name of system.workers.keys())
      await removeLabelled(system.workerLabel(name), opts.dockerSocket);
  });
  cleanup.add("system", () => system.close());
  return { system, postgres, redis };
}

/**
 * What is left on the engine of a submission's image: the image itself (by the digest it ran) and
 * the leases (tags) held for it.
 */
export async function submissionImageLeft(system: System, id: string): Promise<string[]> {
  const row = await system.db.submission.findUnique({ where: { id }, select: { imageDigest: true } });
  const host = system.opts.dockerSocket ? ["-H", `unix://${system.opts.dockerSocket}`] : [];
  const found = (await leaseTagsOf(id, system.opts.dockerSocket)).map((ref) => `lease ${ref}`);
  if (row?.imageDigest) {
    const image = await runCommand("docker", [...host, "image", "inspect", row.imageDigest]).then(
      () => true,
      () => false,
    );
    if (image) found.push(`image ${row.imageDigest}`);
  }
  return found;
}

/** Removes a submission's loaded image (by id) from the engine, if it is still there. */
export async function removeSubmissionImage(system: System, id: string): Promise<void> {
  const row = await system.db.submission.findUnique({ where: { id }, select: { imageDigest: true } });
  if (!row?.imageDigest) return;
  const host = system.opts.dockerSocket ? ["-H", `unix://${system.opts.dockerSocket}`] : [];
  await runCommand("docker", [...host, "rmi", "-f", row.imageDigest]).catch(() => undefined);
}
