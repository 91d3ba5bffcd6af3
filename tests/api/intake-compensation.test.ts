import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQueue, QUEUE_EVALUATE, type EvaluateQueue } from "@holdout/contracts";
import {
  closeCompetition,
  createDb,
  createTeamWithToken,
  ensureCompetition,
  liveReservationIds,
  quotaStatus,
  type Db,
} from "@holdout/db";
import { createIntake, type Intake } from "../../apps/api/src/services/intake.ts";
import { ingestStoredFile, uploadsDirOf } from "../../apps/api/src/services/upload-store.ts";
import { tarBuffer } from "../support/images.ts";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../support/env.ts";

// The intake's undo steps (docs/architecture.md, "A submission's path"): when recording a
// submission fails, the stored file is removed and the quota slot given back, and a removal that
// fails does not keep the slot from being given back. Everything here is real: PostgreSQL refuses
// the record because the competition closed while the file was arriving, and the file system
// refuses the removal because a directory stands where the upload's file was.

describe("the intake gives the quota slot back whatever else fails", () => {
  let db: Db;
  let redis: Redis;
  let queue: EvaluateQueue;
  let dataDir: string;

  beforeAll(async () => {
    db = createDb(TEST_DATABASE_URL, { poolSize: 2 });
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queue = createQueue(redis, QUEUE_EVALUATE, { prefix: uniqueName("holdout-test") });
    dataDir = await mkdtemp(path.join(os.tmpdir(), "holdout-intake-"));
  });
  afterAll(async () => {
    await queue?.close();
    await redis?.quit();
    await db?.$disconnect();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** A competition of its own (the test closes it), a team, and the intake the app would build. */
  async function setup() {
    const competition = await ensureCompetition(db, { slug: uniqueName("comp"), name: "Intake" });
    await db.competition.update({
      where: { id: competition.id },
      data: { quotaPerDay: 5, quotaTotal: 20, requireApproval: false },
    });
    const { team } = await createTeamWithToken(db, {
      competitionId: competition.id,
      name: uniqueName("team"),
    });
    const intake = createIntake({
      db,
      queue,
      dataDir,
      competitionId: competition.id,
      bundleLimits: { maxBytes: 1024 ** 2, maxFiles: 100 },
      reservationTtlMs: 3600_000,
    });
    return { competitionId: competition.id, teamId: team.id, intake };
  }

  /** Logs what the intake reports: the failed undo steps are said, not swallowed. */
  function recordingLog() {
    const lines: string[] = [];
    const log = { error: (_obj: unknown, msg: string) => lines.push(msg) } as unknown as FastifyBaseLogger;
    return { lines, log };
  }

  /** Stores a real image tarball through the real content check; the competition closes meanwhile. */
  async function receiveWhileClosing(intake: Intake, id: string, competitionId: string) {
    const file = path.join(dataDir, `${id}.incoming`);
    await writeFile(file, await tarBuffer({ "manifest.json": "[]" }));
    const upload = await ingestStoredFile(file, "image", { model: "m" }, intake.target(id));
    await closeCompetition(db, { competitionId, actor: "cli:test@intake" });
    return upload;
  }

  it("gives the slot back when the record fails and removing the stored file fails first", async () => {
    const { competitionId, teamId, intake } = await setup();
    const { lines, log } = recordingLog();
    const slot = await intake.reserve(teamId);
    expect((await quotaStatus(db, teamId)).remaining).toBe(4);

    const refused = intake.complete(slot, log, async () => {
      const upload = await receiveWhileClosing(intake, slot.id, competitionId);
      // The stored file's name now holds a non-empty directory: its removal (the first undo) throws.
      const stored = path.join(uploadsDirOf(dataDir), upload.fileName);
      await rm(stored);
      await mkdir(stored);
      await writeFile(path.join(stored, "keep"), "x");
      return upload;
    });

    // The record's own refusal is what the team hears, not the failed clean-up.
    await expect(refused).rejects.toMatchObject({ code: "HOLDOUT_ERR_COMPETITION_CLOSED" });
    expect(lines).toEqual(["could not remove the stored upload"]);
    expect([...(await liveReservationIds(db, [slot.id]))]).toEqual([]);
    expect((await quotaStatus(db, teamId)).remaining).toBe(5);
  });

  it("removes the stored file and gives the slot back when the record fails", async () => {
    const { competitionId, teamId, intake } = await setup();
    const { lines, log } = recordingLog();
    const slot = await intake.reserve(teamId);

    const refused = intake.complete(slot, log, () => receiveWhileClosing(intake, slot.id, competitionId));

    await expect(refused).rejects.toMatchObject({ code: "HOLDOUT_ERR_COMPETITION_CLOSED" });
    expect(lines).toEqual([]);
    expect(await readdir(uploadsDirOf(dataDir))).not.toContainEqual(expect.stringContaining(slot.id));
    expect((await quotaStatus(db, teamId)).remaining).toBe(5);
  });
});
