/**
 * Leaderboard page benchmark (not a test): 1,000 scored entries (5,000 task results with intervals)
 * in a fresh competition, then sequential requests from a loopback client to the server-rendered
 * page, its per-task and filtered variants, and two baselines in the same run: the JSON endpoint
 * (same query, no template) and a static asset (no query at all). Prints p50/p95 per URL and each
 * one's ratio to the baselines. Target: the page answers in at most 50 ms (p95) with 1,000 entries.
 * Run with `npm run bench:leaderboard` (needs the services scripts/setup.sh starts).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { TASKS } from "@holdout/scorer";
import { buildLeaderboard, cachedLeaderboard } from "../apps/api/src/services/leaderboard.ts";
import { startStack } from "../tests/support/stack.ts";

const run = promisify(execFile);
const ENTRIES = 1000;
const TEAMS = 100;
const REQUESTS = 200;
const WARMUP = 20;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The loopback client runs in its own process, so the figures are the server's: this process hosts
 * the API (as startStack does for tests) and must not also spend its event loop parsing answers.
 * It prints each request's time in ms, sequentially, after a warm-up.
 */
const CLIENT = `
const [url, n, warm] = process.argv.slice(1);
const once = async () => { const r = await fetch(url); const b = await r.arrayBuffer(); if (r.status !== 200) throw new Error(url + " answered " + r.status); return b.byteLength; };
for (let i = 0; i < Number(warm); i++) await once();
const times = []; let bytes = 0;
for (let i = 0; i < Number(n); i++) { const t = performance.now(); bytes = await once(); times.push(performance.now() - t); }
console.log(JSON.stringify({ times, bytes }));`;

async function timeUrl(url: string): Promise<{ p50: number; p95: number; bytes: number }> {
  const { stdout } = await run(
    process.execPath,
    ["--input-type=module", "-e", CLIENT, url, String(REQUESTS), String(WARMUP)],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const { times, bytes } = JSON.parse(stdout) as { times: number[]; bytes: number };
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), bytes };
}

/** p50/p95 of in-process runs of `step`, after a warm-up. */
async function timeInProcess(
  step: () => Promise<unknown>,
): Promise<{ p50: number; p95: number; bytes: number }> {
  for (let i = 0; i < WARMUP; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    await step();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), bytes: 0 };
}

const stack = await startStack();
try {
  const competitionId = stack.competition.id;
  const teams = await Promise.all(
    Array.from({ length: TEAMS }, (_, i) => stack.createTeam(`Bench Team ${i}`, `Institution ${i % 17}`)),
  );
  const start = Date.parse("2019-06-01T00:00:00Z");
  const rows = Array.from({ length: ENTRIES }, (_, i) => {
    const meanAuc = 0.72 + (0.2 * ((i * 7919) % ENTRIES)) / ENTRIES;
    const rads = ((i * 31) % 31) / 10;
    return {
      id: randomUUID(),
      competitionId,
      teamId: teams[i % TEAMS]!.id,
      modelName: `Model ${i} <${i % 3 === 0 ? "ensemble" : "single"}>`,
      link: i % 2 === 0 ? `https://example.org/paper/${i}` : null,
      ensemble: i % 3 === 0,
      uploadSize: BigInt(1),
      uploadSha256: "0".repeat(64),
      state: "scored" as const,
      meanAuc,
      meanRadsBelowCurve: rads,
      score: meanAuc + 0.001 * rads,
      meanAucLo: meanAuc - 0.02,
      meanAucHi: meanAuc + 0.02,
      tiedWithLeader: i % 50 === 0,
      createdAt: new Date(start + i * 3600_000),
    };
  });
  await stack.db.submission.createMany({ data: rows });
  await stack.db.taskResult.createMany({
    data: rows.flatMap((r) =>
      TASKS.map((task, t) => ({
        submissionId: r.id,
        task,
        auc: r.meanAuc + (t - 2) * 0.005,
        aucLo: r.meanAuc - 0.03,
        aucHi: r.meanAuc + 0.03,
        radsBelowCurve: t % 4,
        roc: [
          [0, 0],
          [1, 1],
        ],
      })),
    ),
  });

  // As autovacuum would after a bulk load: the planner needs the new row counts.
  await stack.db.$executeRawUnsafe('ANALYZE "Submission", "TaskResult", "Team"');

  const html = await (await fetch(`${stack.url}/`)).text();
  const css = /href="(\/static\/[^"]+\.css)"/.exec(html)?.[1];
  if (!css) throw new Error("the page links no stylesheet");
  const rowsShown = html.match(/<tr data-submission=/g)?.length ?? 0;
  if (rowsShown !== ENTRIES) throw new Error(`the page shows ${rowsShown} rows, expected ${ENTRIES}`);

  const targets: [string, string][] = [
    ["static asset (baseline)", css],
    ["JSON /api/v1/leaderboard (baseline)", "/api/v1/leaderboard"],
    ["page /", "/"],
    ["page /?tasks=1", "/?tasks=1"],
    ["page /?sort=date&q=team 4", "/?sort=date&q=team%204"],
  ];
  const results: { label: string; p50: number; p95: number; bytes: number }[] = [];
  for (const [label, path] of targets) results.push({ label, ...(await timeUrl(`${stack.url}${path}`)) });
  // Where the page's time goes: the query and ranking alone, in this process, no HTTP.
  results.push({
    label: "in-process build, uncached (query+rank)",
    ...(await timeInProcess(() => buildLeaderboard(stack.db, stack.competition))),
  });
  // What every request pays when the data has not changed: the fingerprint query.
  const cached = cachedLeaderboard(stack.db, stack.competition);
  results.push({
    label: "in-process cached read (fingerprint)",
    ...(await timeInProcess(() => cached.get())),
  });
  const [asset, json] = results;
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  console.log(
    `${ENTRIES} entries, ${REQUESTS} sequential requests per URL after ${WARMUP} warm-up requests; ` +
      `${os.cpus().length} cores, load average ${load}`,
  );
  for (const r of results) {
    console.log(
      `${r.label.padEnd(38)} p50 ${r.p50.toFixed(1).padStart(6)} ms  p95 ${r.p95.toFixed(1).padStart(6)} ms  ` +
        `${r.label.startsWith("in-process") ? "         " : `${(r.bytes / 1024).toFixed(0).padStart(5)} KiB`}  ` +
        `p50 x${(r.p50 / json!.p50).toFixed(2)} JSON, x${(r.p50 / asset!.p50).toFixed(1)} static`,
    );
  }
  const page = results[2]!;
  console.log(
    `page / p95 ${page.p95.toFixed(1)} ms: ${page.p95 <= 50 ? "within" : "OVER"} the 50 ms target ` +
      `(x${(page.p95 / asset!.p95).toFixed(1)} the static asset's p95 on this machine now)`,
  );
} finally {
  await stack.db.competition.delete({ where: { id: stack.competition.id } });
  await stack.close();
}
