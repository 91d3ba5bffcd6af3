/**
 * Leaderboard under load (not a test): GET /api/v1/leaderboard on a competition holding 10,000 scored
 * submissions, driven by wrk from a separate process over loopback, against a static file
 * server (node:http, in this same process like the API) answering the very same bytes. Bounded: a few
 * seconds per side, 10 connections. The seeded competition is deleted afterwards.
 * Target: at least 0.5x the static server's requests per second.
 *   part of `npm run bench`
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { teamNameKey } from "@holdout/db";
import { TASKS } from "@holdout/scorer";
import { startStack } from "../tests/support/stack.ts";
import { closeBenchStack, runPart, run, type Row } from "./lib.ts";

const SUBMISSIONS = 10_000;
const TEAMS = 1_000;
const SECONDS = 5;
const CONNECTIONS = 10;

/**
 * Requests per second reached by wrk (Debian's, in C: a JavaScript load generator parsing
 * multi-megabyte answers becomes the bottleneck itself), from its own process over loopback.
 */
async function load(url: string): Promise<number> {
  const { stdout } = await run(
    "wrk",
    ["-t", "1", "-c", String(CONNECTIONS), "-d", `${SECONDS}s`, "--timeout", "30s", url],
    { timeout: (SECONDS + 60) * 1000 },
  ).catch((err: unknown) => {
    throw new Error("wrk failed or is missing (apt-get install -y wrk)", { cause: err });
  });
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(stdout);
  if (!rate) throw new Error(`wrk printed no rate:\n${stdout}`);
  const bad = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(stdout);
  if (bad) throw new Error(`${url} under load: ${bad[0]}`);
  return Number(rate[1]);
}

const SEED_BATCH = 500;

export async function benchLeaderboardLoad(): Promise<Row[]> {
  const stack = await startStack({ rateLimit: { perIp: 10_000_000, perCredential: 10_000_000 } });
  const server = createServer();
  try {
    const competitionId = stack.competition.id;
    const teamIds = Array.from({ length: TEAMS }, () => randomUUID());
    await stack.db.team.createMany({
      data: teamIds.map((id, i) => ({
        id,
        competitionId,
        name: `Bench Team ${i}`,
        nameKey: teamNameKey(`Bench Team ${i}`),
        institution: `Lab ${i % 37}`,
      })),
    });
    const start = Date.parse("2019-06-01T00:00:00Z");
    // Batches small enough for one INSERT each: a createMany over PostgreSQL's 32,767 bind
    // parameters is split by Prisma into statements sent at once on the transaction's connection,
    // which pg queues with a deprecation warning.
    for (let from = 0; from < SUBMISSIONS; from += SEED_BATCH) {
      const rows = Array.from({ length: Math.min(SEED_BATCH, SUBMISSIONS - from) }, (_, k) => {
        const i = from + k;
        const meanAuc = 0.72 + (0.2 * ((i * 7919) % SUBMISSIONS)) / SUBMISSIONS;
        const rads = ((i * 31) % 31) / 10;
        return {
          id: randomUUID(),
          competitionId,
          teamId: teamIds[i % TEAMS]!,
          modelName: `Model ${i}`,
          uploadSize: 1n,
          uploadSha256: "0".repeat(64),
          state: "scored" as const,
          meanAuc,
          meanRadsBelowCurve: rads,
          score: meanAuc + 0.001 * rads,
          meanAucLo: meanAuc - 0.02,
          meanAucHi: meanAuc + 0.02,
          createdAt: new Date(start + i * 600_000),
          finishedAt: new Date(start + i * 600_000 + 60_000),
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
    }

    const url = `${stack.url}/api/v1/leaderboard`;
    const first = await fetch(url);
    if (first.status !== 200) throw new Error(`${url} answered ${first.status}`);
    const body = Buffer.from(await first.arrayBuffer());
    const type = first.headers.get("content-type") ?? "application/json";
    server.on("request", (_req, res) => {
      res.writeHead(200, { "content-type": type, "content-length": body.length });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const staticUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/leaderboard.json`;

    // The static side first: both servers share this process, and requests the API is still
    // serializing after wrk stops would otherwise starve the static server's turn.
    const baseline = await load(staticUrl);
    const ours = await load(url);
    if (baseline <= 0) throw new Error("the static server answered nothing under load");
    return [
      {
        figure: `leaderboard JSON, ${SUBMISSIONS} submissions, ${(body.length / 1024).toFixed(0)} KiB (req/s)`,
        ours: ours.toFixed(1),
        baseline: `${baseline.toFixed(1)} (static)`,
        ratio: `${(ours / baseline).toFixed(2)}x`,
        target: ">= 0.5x",
        pass: ours / baseline >= 0.5,
      },
    ];
  } finally {
    server.close();
    await closeBenchStack(stack);
  }
}

await runPart(import.meta.url, benchLeaderboardLoad);
