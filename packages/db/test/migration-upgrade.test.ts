import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, createSubmission, quotaStatus, type Db } from "../src/index.ts";

// The upgrade of a single-competition database to competitions in phases, from the previous
// schema with data in every table: each row is kept with every value it had, each competition gets
// exactly one phase, and every submission and quota slot joins it.

const DATABASE_URL =
  process.env.HOLDOUT_TEST_DATABASE_URL ?? "postgresql://holdout:holdout@127.0.0.1:5432/holdout_test";
const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../prisma/migrations");
const PREVIOUS = "20261208120000_run_lease";
const UPGRADE = "20261209120000_competitions_phases";

/** Runs a migration as `prisma migrate deploy` does: cut at every semicolon, one statement at a time. */
async function applyMigration(client: pg.Client, name: string) {
  const sql = readFileSync(path.join(MIGRATIONS, name, "migration.sql"), "utf8");
  for (const statement of sql.split(";")) {
    if (statement.trim() !== "") await client.query(statement);
  }
}

/** Every table's rows as JSON, sorted, by table (the migrations' own bookkeeping aside). */
async function snapshot(client: pg.Client): Promise<Map<string, Record<string, unknown>[]>> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const out = new Map<string, Record<string, unknown>[]>();
  for (const { name } of tables) {
    const { rows } = await client.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM "${name}" t`,
    );
    out.set(name, sorted(rows.map((r) => r.row)));
  }
  return out;
}

const sorted = (rows: Record<string, unknown>[]) =>
  rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

const without = (row: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(Object.entries(row).filter(([k]) => !keys.includes(k)));

describe(`the upgrade from ${PREVIOUS} (real PostgreSQL)`, () => {
  const database = `holdout_upgrade_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  let admin: pg.Client;
  let client: pg.Client | undefined;
  let db: Db | undefined;

  const open = { id: randomUUID(), createdAt: "2026-11-01T10:00:00.000Z" };
  const closed = {
    id: randomUUID(),
    createdAt: "2026-10-01T10:00:00.000Z",
    closedAt: "2026-10-20T18:30:00.000Z",
  };
  const teams = [randomUUID(), randomUUID(), randomUUID()];
  const accountId = randomUUID();
  const reservationId = randomUUID();
  const states = ["received", "queued", "running", "scoring", "scored", "failed", "cancelled"] as const;
  const submissions = states.map((state) => ({ id: randomUUID(), state }));
  const closedSubmission = randomUUID();
  // Inside the quota's rolling window when the test reads the quota.
  const recently = new Date(Date.now() - 3600_000).toISOString();

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const names = readdirSync(MIGRATIONS, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name <= PREVIOUS)
      .map((d) => d.name)
      .sort();
    for (const name of names) await applyMigration(client, name);
  });

  afterAll(async () => {
    await db?.$disconnect();
    await client?.end();
    await admin.query(`DROP DATABASE IF EXISTS "${database}"`);
    await admin.end();
  });

  async function seed(c: pg.Client) {
    await c.query(
      `INSERT INTO "Competition" (id, slug, name, "createdAt", "quotaPerDay", "quotaTotal", "splitFraction", "splitSeed")
       VALUES ($1, 'chexpert', 'CheXpert', $2, 10, 20, 0.5, 42)`,
      [open.id, open.createdAt],
    );
    await c.query(
      `INSERT INTO "Competition" (id, slug, name, "createdAt", state, "closedAt", "closedBy", ladder)
       VALUES ($1, 'older', 'Older one', $2, 'closed', $3, 'cli:root@host', true)`,
      [closed.id, closed.createdAt, closed.closedAt],
    );
    for (const [i, id] of teams.entries()) {
      await c.query(
        `INSERT INTO "Team" (id, "competitionId", name, "nameKey", "contactEmail", "passwordHash", approved, "termsAcceptedAt")
         VALUES ($1, $2, $3, $4, $5, 'argon2id-hash', $6, now())`,
        [id, i < 2 ? open.id : closed.id, `Team ${i}`, `team ${i}`, `t${i}@example.org`, i !== 1],
      );
    }
    await c.query(`INSERT INTO "Account" (id, email, "passwordHash") VALUES ($1, 'org@example.org', 'h')`, [
      accountId,
    ]);
    await c.query(
      `INSERT INTO "Session" (id, "tokenHash", "teamId", "expiresAt") VALUES ($1, 's1', $2, now() + interval '1 day')`,
      [randomUUID(), teams[0]],
    );
    await c.query(
      `INSERT INTO "Session" (id, "tokenHash", "accountId", "expiresAt") VALUES ($1, 's2', $2, now() + interval '1 day')`,
      [randomUUID(), accountId],
    );
    await c.query(
      `INSERT INTO "ApiToken" (id, "teamId", "tokenHash", prefix) VALUES ($1, $2, 'k1', 'hk_1')`,
      [randomUUID(), teams[0]],
    );
    await c.query(
      `INSERT INTO "ApiToken" (id, "accountId", "tokenHash", prefix, "revokedAt") VALUES ($1, $2, 'k2', 'hk_2', now())`,
      [randomUUID(), accountId],
    );
    await c.query(
      `INSERT INTO "QuotaReservation" (id, "teamId", "expiresAt") VALUES ($1, $2, now() + interval '1 hour')`,
      [reservationId, teams[0]],
    );
    for (const s of [...submissions, { id: closedSubmission, state: "scored" as const }]) {
      const inClosed = s.id === closedSubmission;
      await c.query(
        `INSERT INTO "Submission" (id, "competitionId", "teamId", state, "modelName", "uploadSize", "uploadSha256",
           "failureCategory", "failedPhase", refunded, "meanAuc", "meanRadsBelowCurve", score, "leaseToken", "createdAt")
         VALUES ($1, $2, $3, $4, $5, 1234, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          s.id,
          inClosed ? closed.id : open.id,
          inClosed ? teams[2] : teams[0],
          s.state,
          `model ${s.state}`,
          "a".repeat(64),
          s.state === "failed" ? "timeout" : null,
          s.state === "failed" ? "hidden" : null,
          false,
          s.state === "scored" ? 0.9123456 : null,
          s.state === "scored" ? 1.4 : null,
          s.state === "scored" ? 0.9137456 : null,
          s.state === "running" ? randomUUID() : null,
          inClosed ? "2026-10-10T00:00:00.000Z" : recently,
        ],
      );
      await c.query(
        `INSERT INTO "SubmissionEvent" ("submissionId", state, detail) VALUES ($1, 'received', 'upload')`,
        [s.id],
      );
    }
    const scored = submissions.find((s) => s.state === "scored")!.id;
    await c.query(
      `INSERT INTO "TaskResult" ("submissionId", task, auc, "radsBelowCurve", roc, curves)
       VALUES ($1, 'Edema', 0.93, 2, '[[0,0],[1,1]]', '{"pr": []}')`,
      [scored],
    );
    await c.query(
      `INSERT INTO "SubmissionPartScore" ("submissionId", part, "meanAuc", "meanRadsBelowCurve", score, tasks)
       VALUES ($1, 'public', 0.91, 1.2, 0.9112, '[]')`,
      [scored],
    );
    await c.query(
      `INSERT INTO "SubmissionLog" ("submissionId", phase, text, "fullText", "updatedAt") VALUES ($1, 'smoke', 'log', 'full log', now())`,
      [scored],
    );
    await c.query(`INSERT INTO "SubmissionPredictions" ("submissionId", csv) VALUES ($1, 'Study,Edema')`, [
      scored,
    ]);
    await c.query(
      `INSERT INTO "WorkerHeartbeat" (name, host, pid, concurrency, "startedAt", "lastSeenAt") VALUES ('w1', 'h', 7, 2, now(), now())`,
    );
    await c.query(
      `INSERT INTO "AuditEvent" ("competitionId", actor, action, "targetType", "targetId") VALUES ($1, 'cli:root@host', 'competition.close', 'competition', $2)`,
      [closed.id, closed.id],
    );
  }

  it("keeps every row, gives each competition one hidden-set phase and puts every submission in it", async () => {
    const c = client!;
    await seed(c);
    const before = await snapshot(c);
    for (const [table, rows] of before) {
      if (table !== "_prisma_migrations")
        expect(rows.length, `${table} has rows to carry over`).toBeGreaterThan(0);
    }

    await applyMigration(c, UPGRADE);
    const after = await snapshot(c);

    // Every table of before is still there with every row and every value; new columns aside.
    const added: Record<string, string[]> = {
      Competition: [
        "devsetDir",
        "devsetSha256",
        "runtimeImage",
        "scorer",
        "terms",
        "testsetDir",
        "testsetSha256",
      ],
      Submission: ["phaseId"],
      QuotaReservation: ["phaseId"],
    };
    for (const [table, rows] of before) {
      const kept = sorted((after.get(table) ?? []).map((r) => without(r, added[table] ?? [])));
      expect(kept, table).toEqual(rows);
    }
    expect([...after.keys()].filter((t) => !before.has(t))).toEqual(["Phase"]);
    for (const row of after.get("Competition")!)
      expect(row).toMatchObject({ scorer: "chexpert", testsetDir: null });

    const phases = after.get("Phase")!;
    expect(phases).toHaveLength(2);
    const phaseOf = (competitionId: string) => phases.filter((p) => p.competitionId === competitionId);
    const common = {
      ordinal: 1,
      name: "Hidden test set",
      data: "hidden",
      feedback: "released",
      ranked: true,
      quotaPerDay: null,
      quotaTotal: null,
    };
    const stamp = (v: unknown) => new Date(v as string).toISOString();
    const [openPhase] = phaseOf(open.id);
    const [closedPhase] = phaseOf(closed.id);
    expect(openPhase).toMatchObject({ ...common, endsAt: null });
    expect(stamp(openPhase!.startsAt)).toBe(open.createdAt);
    expect(closedPhase).toMatchObject(common);
    expect(stamp(closedPhase!.startsAt)).toBe(closed.createdAt);
    expect(stamp(closedPhase!.endsAt)).toBe(closed.closedAt);

    for (const s of after.get("Submission")!) {
      expect(s.phaseId, `submission ${String(s.id)}`).toBe(
        s.competitionId === open.id ? openPhase!.id : closedPhase!.id,
      );
    }
    expect(after.get("QuotaReservation")!.map((r) => r.phaseId)).toEqual([openPhase!.id]);
  });

  it("reads as before through the repositories: the quota counts what it counted, an upload joins the phase", async () => {
    // The repositories are today's: they read the schema every later migration makes.
    const later = readdirSync(MIGRATIONS, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name > UPGRADE)
      .map((d) => d.name)
      .sort();
    for (const name of later) await applyMigration(client!, name);
    db = createDb(url.toString(), { poolSize: 1 });
    // Team 0: seven submissions in the last hour (none refunded) and one live reservation, against
    // 10 a day and 20 in all.
    const status = await quotaStatus(db, teams[0]!);
    expect(status).toMatchObject({ perDay: 10, total: 20, usedInWindow: 8, usedTotal: 8, remaining: 2 });
    const id = randomUUID();
    await createSubmission(
      db,
      {
        id,
        competitionId: open.id,
        teamId: teams[0]!,
        modelName: "after the upgrade",
        description: null,
        link: null,
        ensemble: false,
        uploadFile: null,
        uploadSize: 1,
        uploadSha256: "b".repeat(64),
      },
      reservationId,
    );
    const { rows } = await client!.query<{ ordinal: number }>(
      `SELECT p.ordinal FROM "Submission" s JOIN "Phase" p ON p.id = s."phaseId" AND p."competitionId" = s."competitionId" WHERE s.id = $1`,
      [id],
    );
    expect(rows).toEqual([{ ordinal: 1 }]);
  });
});
