import { createHash, randomUUID } from "node:crypto";
import { copyFile, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateJobOptions, QUEUE_EVALUATE } from "@holdout/contracts";
import {
  createCompetition,
  createSubmission,
  createTeamWithToken,
  currentPhaseAt,
  findSubmission,
  findSubmissionLog,
  listSubmissionEvents,
  markQueued,
  type CompetitionWithPhases,
} from "@holdout/db";
import { generateTestset, TRIAGE_COLUMNS } from "@holdout/testset";
import { loadWorkerConfig, startWorker, type RunningWorker } from "@holdout/worker";
import { uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { until } from "../support/predictions.ts";
import { startStack, type Stack } from "../support/stack.ts";

const TRIAGE = Object.keys(TRIAGE_COLUMNS);

/** Like CONSTANT_PREDICTIONS, for the triage set's columns; it also logs how many images it was given. */
const TRIAGE_PREDICTIONS = `echo "images: $(($(wc -l < "$0") - 1))"; awk -F, 'BEGIN { print "Study,${TRIAGE.join(",")}" }
NR > 1 { s = $1; sub(/\\/view[0-9]+_[a-z]+\\.jpg$/, "", s); if (!seen[s]++) print s ",0.5,0.5,0.5" }' "$0" > "$1"`;

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

// One worker serves every competition on the queue: each submission is run on its competition's
// own sets and scored by the scorer its test set names; a development phase runs on the development
// set with its detail shown in full; each set's labels are read once, however many competitions
// and jobs use them; and a worker pinned to some competitions leaves the others' jobs waiting.
describe("one worker, many competitions", () => {
  let stack: Stack;
  let setsDir: string;
  let triage: CompetitionWithPhases;
  let twin: CompetitionWithPhases;
  let chexpertModel: string;
  let triageModel: string;
  type LogLine = { msg?: string; set?: string };
  const lines: LogLine[] = [];
  const workers: RunningWorker[] = [];

  /** A worker of the stack whose log lines this test reads. */
  const startLoggedWorker = async (extra: Record<string, string> = {}) => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n"))
          if (line) lines.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    const worker = await startWorker(loadWorkerConfig(stack.workerEnv(extra)), pino({ level: "info" }, sink));
    workers.push(worker);
    return worker;
  };

  /** A submission recorded and queued as the intake does, with its upload in the data directory. */
  const submit = async (competitionId: string, phaseId: string, tarball: string) => {
    const { team } = await createTeamWithToken(stack.db, { competitionId, name: uniqueName("team") });
    const id = randomUUID();
    await mkdir(path.join(stack.dataDir, "uploads"), { recursive: true });
    await copyFile(tarball, path.join(stack.dataDir, "uploads", `${id}.tar`));
    await createSubmission(stack.db, {
      id,
      competitionId,
      phaseId,
      teamId: team.id,
      modelName: uniqueName("model"),
      description: null,
      link: null,
      ensemble: false,
      uploadFile: `${id}.tar`,
      uploadSize: (await stat(tarball)).size,
      uploadSha256: "0".repeat(64),
    });
    await markQueued(stack.db, id);
    await stack.queue.add(QUEUE_EVALUATE, { submissionId: id }, evaluateJobOptions(id));
    return id;
  };

  const final = (id: string, timeoutMs = 180_000) =>
    until(
      `submission ${id} to end`,
      async () => {
        const s = await findSubmission(stack.db, id);
        return s && ["scored", "failed", "cancelled"].includes(s.state) ? s : undefined;
      },
      timeoutMs,
    );

  /** A competition on the triage sets, in a development phase now and a hidden-set phase after it. */
  const triageCompetition = (testset: string, devset: string) =>
    createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug: uniqueName("triage"),
        name: "Triage",
        testsetDir: testset,
        testsetSha256: sha(`test ${testset}`),
        devsetDir: devset,
        devsetSha256: sha(`dev ${devset}`),
        scorer: "mean_auc",
        phases: [
          {
            name: "Development",
            startsAt: new Date(Date.now() - 3600_000),
            endsAt: new Date(Date.now() + 3600_000),
            data: "development",
            feedback: "full",
            ranked: false,
          },
          {
            name: "Test",
            startsAt: new Date(Date.now() + 3600_000),
            endsAt: null,
            data: "hidden",
            feedback: "released",
            ranked: true,
          },
        ],
      },
    );

  beforeAll(async () => {
    stack = await startStack({
      workerEnv: { HOLDOUT_SMOKE_STUDIES: "3", HOLDOUT_RUN_TIMEOUT_SECONDS: "60" },
    });
    setsDir = await mkdtemp(path.join(os.tmpdir(), "holdout-triage-"));
    const testset = path.join(setsDir, "test");
    const devset = path.join(setsDir, "dev");
    await generateTestset({ outDir: testset, scorer: "mean-auc", studies: 40, longSide: 64 });
    await generateTestset({ outDir: devset, scorer: "mean-auc", kind: "dev", studies: 12, longSide: 64 });
    triage = await triageCompetition(testset, devset);
    // Another competition holding the same sets, by the same content hashes: they share one copy.
    twin = await createCompetition(
      stack.db,
      { actor: "test" },
      {
        slug: uniqueName("twin"),
        name: "Triage again",
        testsetDir: testset,
        testsetSha256: triage.testsetSha256!,
        devsetDir: devset,
        devsetSha256: triage.devsetSha256!,
        scorer: "mean_auc",
        phases: [
          {
            name: "Test",
            startsAt: new Date(),
            endsAt: null,
            data: "hidden",
            feedback: "released",
            ranked: true,
          },
        ],
      },
    );
    chexpertModel = await tinyShellModelTarball(CONSTANT_PREDICTIONS);
    triageModel = await tinyShellModelTarball(TRIAGE_PREDICTIONS);
  }, 300_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await stack?.close();
    if (setsDir) await rm(setsDir, { recursive: true, force: true });
  });

  it(
    "scores each competition's submission with its own scorer, reading each set's labels once",
    { timeout: 400_000 },
    async () => {
      const worker = await startLoggedWorker();
      const chexpertPhase = await currentPhaseAt(stack.db, stack.competition.id, new Date());
      const hiddenPhase = triage.phases[1]!;
      const twinPhase = twin.phases[0]!;

      const onChexpert = await submit(stack.competition.id, chexpertPhase.id, chexpertModel);
      const onTriage = await submit(triage.id, hiddenPhase.id, triageModel);
      const onTwin = await submit(twin.id, twinPhase.id, triageModel);
      // A CheXpert model in the triage competition: its columns are not the triage set's.
      const wrongColumns = await submit(triage.id, hiddenPhase.id, chexpertModel);

      const chexpert = await final(onChexpert);
      expect(chexpert.state).toBe("scored");
      expect(chexpert.results.map((r) => r.task).sort()).toEqual(
        ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"].sort(),
      );

      for (const id of [onTriage, onTwin]) {
        const scored = await final(id);
        expect(scored.state).toBe("scored");
        expect(scored.results.map((r) => r.task).sort()).toEqual([...TRIAGE].sort());
        // Constant predictions: every AUC is exactly 0.5, and no reader is compared.
        expect(scored.meanAuc).toBe(0.5);
        expect(scored.meanRadsBelowCurve).toBe(0);
        const events = await listSubmissionEvents(stack.db, id);
        expect(events.some((e) => e.detail === "smoke run started on 3 development-set studies")).toBe(true);
      }

      const refused = await final(wrongColumns);
      expect(refused).toMatchObject({
        state: "failed",
        failureCategory: "invalid_output",
        failedPhase: "smoke",
      });
      expect(refused.failureMessage).toContain("Lung Collapse");

      // Two sets configured and two of the triage competitions' (shared by both): four loads in all.
      const loads = lines.filter((l) => l.msg === "labels loaded").map((l) => l.set);
      expect(loads.sort()).toEqual(
        [
          "configured:HOLDOUT_DEVSET_DIR",
          "configured:HOLDOUT_TESTSET_DIR",
          `sha256:${triage.devsetSha256}`,
          `sha256:${triage.testsetSha256}`,
        ].sort(),
      );
      await worker.close();
    },
  );

  it(
    "a development-phase submission is run and scored on the development set, its detail in full",
    { timeout: 300_000 },
    async () => {
      await startLoggedWorker();
      const id = await submit(triage.id, triage.phases[0]!.id, triageModel);
      const scored = await final(id);
      expect(scored.state).toBe("scored");
      expect(scored.results.map((r) => r.task).sort()).toEqual([...TRIAGE].sort());
      const events = (await listSubmissionEvents(stack.db, id)).map((e) => e.detail ?? "");
      expect(events).toContain("development run started on 12 development-set studies");
      expect(events.some((d) => d.startsWith("hidden run started"))).toBe(false);
      // The scored run's log is the team's in full (public data), not withheld as a hidden run's is.
      const log = await findSubmissionLog(stack.db, id, "hidden");
      expect(log?.text).toMatch(/images: \d+/);
      const images = Number(/images: (\d+)/.exec(log?.text ?? "")?.[1]);
      expect(images).toBeGreaterThanOrEqual(12);
      expect(images).toBeLessThan(40);
    },
  );

  it(
    "a worker pinned to one competition leaves another's job waiting, visibly, for a worker that serves it",
    { timeout: 300_000 },
    async () => {
      await Promise.all(workers.splice(0).map((w) => w.close()));
      await startLoggedWorker({ HOLDOUT_WORKER_COMPETITIONS: stack.competition.slug });
      const elsewhere = await submit(triage.id, triage.phases[1]!.id, triageModel);
      const chexpertPhase = await currentPhaseAt(stack.db, stack.competition.id, new Date());
      const here = await submit(stack.competition.id, chexpertPhase.id, chexpertModel);

      expect((await final(here)).state).toBe("scored");
      await until("the waiting note", async () =>
        (await listSubmissionEvents(stack.db, elsewhere)).some((e) =>
          e.detail?.startsWith(`waiting for a worker that serves the competition ${triage.slug}`),
        )
          ? true
          : undefined,
      );
      expect((await findSubmission(stack.db, elsewhere))?.state).toBe("queued");

      await startLoggedWorker();
      expect((await final(elsewhere)).state).toBe("scored");
    },
  );
});
