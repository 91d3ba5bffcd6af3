/**
 * Fair share between teams (not a test): team A queues 20 submissions, team B queues 1 right after,
 * through a real API and one worker process running them one at a time (real, short runs of a tiny
 * model image). The figure is how long B's submission waited, from its upload's answer to its run's
 * start, in run times (the median time from one run's start to the next's), and how many of A's runs that was: target at most
 * one, the run in progress when B's was queued. The baseline, from the same run, is what
 * first-come-first-served would have cost it: A's submissions not finished when B's was queued. A's
 * own total (first upload to last scored) is printed beside the 21 runs' own time back to back.
 *   part of `npm run bench` (needs the services and images scripts/setup.sh prepares)
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { generateTestset } from "@holdout/testset";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../tests/support/images.ts";
import { startWorkerProcess } from "../tests/support/processes.ts";
import { startStack, waitForFinal } from "../tests/support/stack.ts";
import { closeBenchStack, curlSubmit, median, runPart, type Row } from "./lib.ts";

const BACKLOG = 20;
/** Every submission's final state, or the part gives up (a stuck worker must not hang the bench). */
const TIMEOUT_MS = 6 * 60_000;

interface Timing {
  team: "A" | "B";
  queuedAt: number;
  startedAt: number;
  finishedAt: number;
}

export async function benchFairShare(): Promise<Row[]> {
  const work = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-fair-"));
  const testset = path.join(work, "testset");
  await generateTestset({ outDir: testset, seed: 5 });
  // About 3 MB, so the 21 uploads and image loads stay small beside the runs.
  const tarball = await tinyShellModelTarball(`sleep 1; ${CONSTANT_PREDICTIONS}`);
  const stack = await startStack();
  const cleanup = async () => {
    await closeBenchStack(stack, work);
    await rm(tarball, { force: true });
  };
  const worker = await startWorkerProcess(
    "bench-fair-worker",
    stack.workerEnv({
      HOLDOUT_TESTSET_DIR: testset,
      HOLDOUT_WORKER_CONCURRENCY: "1",
      HOLDOUT_RUN_TIMEOUT_SECONDS: "60",
      LOG_LEVEL: "info",
      // No smoke run: one run per submission. (Unset, not empty: the stack's default development set.)
      ...({ HOLDOUT_DEVSET_DIR: undefined } as unknown as Record<string, string>),
    }),
  ).catch(async (err: unknown) => {
    await cleanup();
    throw err;
  });
  try {
    const a = await stack.createTeam();
    const b = await stack.createTeam();
    const queued = new Map<string, { team: "A" | "B"; token: string; at: number }>();
    const submit = async (team: "A" | "B", token: string) => {
      const id = await curlSubmit(stack.url, token, tarball, `fair-${team}`);
      queued.set(id, { team, token, at: Date.now() });
      return id;
    };
    const started = Date.now();
    for (let i = 0; i < BACKLOG; i++) await submit("A", a.token);
    const single = await submit("B", b.token);

    const timings = new Map<string, Timing>();
    for (const [id, { team, token, at }] of queued) {
      const left = TIMEOUT_MS - (Date.now() - started);
      const end = await waitForFinal(stack.url, token, id, Math.max(left, 1));
      const { startedAt, finishedAt } = end;
      if (end.state !== "scored" || typeof startedAt !== "string" || typeof finishedAt !== "string")
        throw new Error(`submission ${id} of team ${team} ended ${JSON.stringify(end)}`);
      timings.set(id, {
        team,
        queuedAt: at,
        startedAt: Date.parse(startedAt),
        finishedAt: Date.parse(finishedAt),
      });
    }
    const all = [...timings.values()];
    // A run time: one run's hold on the worker, from its start to the next run's (the run itself and
    // the worker taking the next job); B waits out at most the one in progress, so at most one.
    const starts = all.map((t) => t.startedAt).sort((x, y) => x - y);
    const runTime = median(starts.slice(1).map((at, i) => at - starts[i]!));
    const mine = timings.get(single)!;
    const waited = (mine.startedAt - mine.queuedAt) / runTime;
    // The runs B waited for: the one in progress when it was queued, and any started after it.
    const waitedFor = all.filter(
      (t) => t.team === "A" && t.startedAt < mine.startedAt && t.finishedAt > mine.queuedAt,
    ).length;
    // First come, first served: B would have waited for every A submission not yet finished.
    const ahead = all.filter((t) => t.team === "A" && t.finishedAt > mine.queuedAt).length;
    const aTimes = all.filter((t) => t.team === "A");
    const aTotal = (Math.max(...aTimes.map((t) => t.finishedAt)) - started) / 1000;
    const back = all.reduce((sum, t) => sum + (t.finishedAt - t.startedAt), 0) / 1000;
    return [
      {
        figure: `team B's 1 behind team A's ${BACKLOG}: B's wait (run times)`,
        ours: `${waited.toFixed(2)} (waited for ${waitedFor} run)`,
        baseline: `${ahead} runs (first come, first served)`,
        ratio: ahead > 0 ? `${(waitedFor / ahead).toFixed(2)}x` : "-",
        target: "<= 1 run (the one in progress)",
        pass: waitedFor <= 1,
      },
      {
        figure: `team A's ${BACKLOG}, first upload to last scored (s)`,
        ours: aTotal.toFixed(1),
        baseline: `${back.toFixed(1)} (the 21 runs back to back; run time ${(runTime / 1000).toFixed(2)} s)`,
        ratio: `${(aTotal / back).toFixed(2)}x`,
        target: "<= 1.25x",
        pass: aTotal <= 1.25 * back,
      },
    ];
  } finally {
    await worker.stop("SIGTERM");
    await cleanup();
  }
}

await runPart(import.meta.url, benchFairShare);
