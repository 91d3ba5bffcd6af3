/**
 * Soak benchmark (not a test): the whole system as real processes (an API, 2 workers) on a private
 * PostgreSQL and a private Redis, fed `constant` submissions plus a few hostile ones (sleeper →
 * timeout, crash, nan, broken-header), while faults chosen by a seeded RNG hit it at random times:
 * a worker SIGKILLed and restarted, a worker stopped with SIGTERM and restarted, Redis restarted
 * (it keeps nothing), PostgreSQL restarted. The bar (issue 7): every submission reaches a final
 * state, whatever fails. Prints throughput, p50/p95 upload→final latency, counts by final state,
 * stuck and lost (both must be 0; the exit code is 1 otherwise) and the total time. Baseline, in
 * the same run: a first phase of constant submissions with no fault, against which the faulted
 * phase's throughput and latency are given as ratios.
 *   npm run bench:soak [-- --constant 50 --baseline 10 --seed 1 --deadline-minutes 25]
 * Needs the services and example images scripts/setup.sh provides (the Docker engine is shared and
 * never restarted; PostgreSQL and Redis are private and are).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { FINAL_STATES } from "@holdout/contracts";
import { listSubmissionOutcomes } from "@holdout/db";
import { startIsolated, type Isolated } from "../tests/faults/harness.ts";
import { runCommand } from "../tests/support/faults.ts";
import { Cleanup } from "../tests/support/processes.ts";

const { values: args } = parseArgs({
  options: {
    constant: { type: "string", default: "50" },
    baseline: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    "deadline-minutes": { type: "string", default: "25" },
    "run-timeout-seconds": { type: "string", default: "20" },
  },
});
const CONSTANT = Number(args.constant);
const BASELINE = Number(args.baseline);
const SEED = Number(args.seed);
const DEADLINE_MS = Number(args["deadline-minutes"]) * 60_000;
const RUN_TIMEOUT = args["run-timeout-seconds"];
const WORKERS = ["w1", "w2"];

/** Example images and the final state each must reach. */
const IMAGES = {
  constant: { image: "holdout/example-constant:latest", expect: "scored" },
  sleeper: { image: "holdout/example-sleeper:latest", expect: "failed:timeout" },
  crash: { image: "holdout/example-crash:latest", expect: "failed:nonzero_exit" },
  nan: { image: "holdout/example-nan:latest", expect: "failed:invalid_output" },
  "broken-header": { image: "holdout/example-broken-header:latest", expect: "failed:invalid_output" },
} as const;
type Kind = keyof typeof IMAGES;
const HOSTILE: Kind[] = ["sleeper", "crash", "nan", "broken-header", "sleeper"];

type FaultKind = "worker-sigkill" | "worker-sigterm" | "redis-restart" | "postgres-restart";
const FAULTS: FaultKind[] = ["worker-sigkill", "worker-sigterm", "redis-restart", "postgres-restart"];

interface Tracked {
  kind: Kind;
  phase: "baseline" | "soak";
  /** Upload started (epoch ms). */
  startedAt: number;
  id: string | null;
  /** Uploads refused with a 5xx while a service was down (the client retried). */
  refused: number;
  final: { outcome: string; at: number } | null;
}

const rng = xoroshiro128plus(SEED);
const between = (lo: number, hi: number) => uniformInt(rng, lo, hi);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const log = (msg: string) => console.log(`[${elapsed()}] ${msg}`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<number> {
  const cleanup = new Cleanup();
  const deadline = started + DEADLINE_MS;
  try {
    const work = await mkdtemp(path.join(os.tmpdir(), "holdout-soak-"));
    cleanup.add("tarballs", () => rm(work, { recursive: true, force: true }));
    const tarballs = {} as Record<Kind, string>;
    for (const [kind, { image }] of Object.entries(IMAGES) as [Kind, (typeof IMAGES)[Kind]][]) {
      tarballs[kind] = path.join(work, `${kind}.tar`);
      await runCommand("docker", ["save", "-o", tarballs[kind], image]);
    }
    const iso = await startIsolated(cleanup, { workerEnv: { HOLDOUT_RUN_TIMEOUT_SECONDS: RUN_TIMEOUT } });
    const { system } = iso;
    await system.startApi();
    for (const w of WORKERS) await system.startWorker(w);
    const team = await system.createTeam();
    log(`system up: API ${system.api!.url}, workers ${WORKERS.join(", ")}, seed ${SEED}`);

    const tracked: Tracked[] = [];
    const submit = async (kind: Kind, phase: Tracked["phase"]) => {
      const t: Tracked = { kind, phase, startedAt: Date.now(), id: null, refused: 0, final: null };
      tracked.push(t);
      // A client that retries while the service answers 5xx (a restart in progress), as curl --retry.
      while (Date.now() < deadline) {
        try {
          t.id = await system.submit(team.token, tarballs[kind], `${kind}-${tracked.length}`);
          return;
        } catch {
          t.refused++;
          await sleep(1_000);
        }
      }
    };
    const settle = async (phase: Tracked["phase"]) => {
      while (Date.now() < deadline) {
        const open = tracked.filter((t) => t.phase === phase && t.id && !t.final);
        const rows = await listSubmissionOutcomes(
          system.db,
          open.map((t) => t.id!),
        ).catch(() => []); // PostgreSQL restarting: ask again
        for (const row of rows) {
          if (!FINAL_STATES.includes(row.state)) continue;
          const t = open.find((o) => o.id === row.id)!;
          const outcome = row.state === "failed" ? `failed:${row.failureCategory}` : row.state;
          t.final = { outcome, at: row.finishedAt?.getTime() ?? Date.now() };
        }
        if (tracked.filter((t) => t.phase === phase).every((t) => t.final || !t.id)) return;
        await sleep(1_000);
      }
    };

    // Phase 1, the baseline: constant submissions, no fault.
    const baselineStart = Date.now();
    for (let i = 0; i < BASELINE; i++) await submit("constant", "baseline");
    await settle("baseline");
    const baselineMs = Date.now() - baselineStart;
    log(`baseline: ${BASELINE} submissions in ${(baselineMs / 1000).toFixed(1)} s`);

    // Phase 2, the soak: uploads at random intervals while faults land at random times.
    const kinds: Kind[] = [...Array<Kind>(CONSTANT).fill("constant"), ...HOSTILE];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = between(0, i);
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    const soakStart = Date.now();
    let uploading = true;
    const uploads = (async () => {
      for (const kind of kinds) {
        await submit(kind, "soak");
        await sleep(between(200, 1_500));
      }
      uploading = false;
    })();
    const faults: string[] = [];
    const injector = (async () => {
      const soakOpen = () =>
        uploading || tracked.some((t) => t.phase === "soak" && t.id !== null && t.final === null);
      // The last fault lands well before the deadline, so recovering from it is part of the run.
      while (soakOpen() && Date.now() < deadline - DEADLINE_MS / 3) {
        await sleep(between(8_000, 30_000));
        if (!soakOpen()) break;
        const fault = FAULTS[between(0, FAULTS.length - 1)]!;
        const detail = await inject(iso, fault);
        faults.push(`${elapsed()} ${detail}`);
        log(`fault: ${detail}`);
      }
    })();
    await uploads;
    await settle("soak");
    await injector;
    await settle("soak");
    const soakMs = Date.now() - soakStart;

    return await report(iso, tracked, faults, { baselineMs, soakMs });
  } finally {
    await cleanup.run().catch((err: unknown) => console.error("cleanup failed:", err));
  }
}

async function inject({ system, redis, postgres }: Isolated, fault: FaultKind): Promise<string> {
  switch (fault) {
    case "worker-sigkill":
    case "worker-sigterm": {
      const name = WORKERS[between(0, WORKERS.length - 1)]!;
      const signal = fault === "worker-sigkill" ? "SIGKILL" : "SIGTERM";
      const t0 = Date.now();
      // SIGTERM lets the running evaluation finish (a sleeper takes its whole time limit).
      await system.workers.get(name)?.stop(signal, 180_000);
      const stopMs = Date.now() - t0;
      await sleep(between(500, 3_000));
      await system.startWorker(name);
      return `${signal} ${name} (stopped in ${stopMs} ms), restarted`;
    }
    case "redis-restart":
      await redis.restart();
      return "Redis restarted (empty)";
    case "postgres-restart": {
      const mode = between(0, 1) === 0 ? "fast" : "immediate";
      await postgres.stop(mode);
      await sleep(between(500, 3_000));
      await postgres.start();
      return `PostgreSQL restarted (${mode} stop)`;
    }
    default:
      return fault satisfies never;
  }
}

async function report(
  { system }: Isolated,
  tracked: Tracked[],
  faults: string[],
  times: { baselineMs: number; soakMs: number },
): Promise<number> {
  const accepted = tracked.filter((t) => t.id);
  const rows = await listSubmissionOutcomes(
    system.db,
    accepted.map((t) => t.id!),
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const lost = accepted.filter((t) => !byId.has(t.id!)).length + tracked.filter((t) => !t.id).length;
  const stuck = accepted.filter((t) => byId.has(t.id!) && !t.final).length;
  const counts = new Map<string, number>();
  for (const t of accepted) if (t.final) counts.set(t.final.outcome, (counts.get(t.final.outcome) ?? 0) + 1);
  const unexpected = accepted.filter((t) => t.final && t.final.outcome !== IMAGES[t.kind].expect);
  const badResults = rows.filter((r) => (r.state === "scored" ? 5 : 0) !== r.taskResults).length;
  const leftovers = await system.leftovers();

  const latencies = (phase: Tracked["phase"]) =>
    tracked
      .filter((t) => t.phase === phase && t.final)
      .map((t) => t.final!.at - t.startedAt)
      .sort((a, b) => a - b);
  const base = latencies("baseline");
  const soak = latencies("soak");
  const nBase = tracked.filter((t) => t.phase === "baseline").length;
  const nSoak = tracked.filter((t) => t.phase === "soak").length;
  const perMin = (n: number, ms: number) => (n / ms) * 60_000;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

  console.log("\n== soak ==");
  console.log(`seed ${SEED}; ${WORKERS.length} workers; run time limit ${RUN_TIMEOUT} s`);
  console.log(`faults injected (${faults.length}):\n  ${faults.join("\n  ") || "none"}`);
  console.log(
    `baseline (no faults): ${nBase} constant in ${s(times.baselineMs)}: ` +
      `${perMin(nBase, times.baselineMs).toFixed(2)}/min, p50 ${s(percentile(base, 50))}, p95 ${s(percentile(base, 95))}`,
  );
  console.log(
    `soak (faults): ${nSoak} submissions in ${s(times.soakMs)}: ${perMin(nSoak, times.soakMs).toFixed(2)}/min, ` +
      `p50 ${s(percentile(soak, 50))}, p95 ${s(percentile(soak, 95))}, max ${s(soak.at(-1) ?? NaN)}`,
  );
  console.log(
    `ratios soak/baseline: throughput ${(perMin(nSoak, times.soakMs) / perMin(nBase, times.baselineMs)).toFixed(2)}, ` +
      `p50 ${(percentile(soak, 50) / percentile(base, 50)).toFixed(2)}, p95 ${(percentile(soak, 95) / percentile(base, 95)).toFixed(2)}`,
  );
  console.log(`final states (both phases): ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(
    `uploads refused while a service restarted (then retried): ${tracked.reduce((n, t) => n + t.refused, 0)}`,
  );
  console.log(`unexpected outcomes: ${unexpected.length}`);
  for (const t of unexpected) console.log(`  ${t.kind} ${t.id}: ${t.final!.outcome}`);
  console.log(`wrong result counts: ${badResults}; sandbox leftovers: ${leftovers.length}`);
  console.log(`total time: ${elapsed()}`);
  console.log(`stuck: ${stuck}`);
  console.log(`lost: ${lost}`);
  return stuck === 0 && lost === 0 ? 0 : 1;
}

const hardStop = setTimeout(
  () => {
    console.error(`soak: hard deadline passed; giving up`);
    process.exit(1);
  },
  DEADLINE_MS + 5 * 60_000,
);
hardStop.unref();
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
