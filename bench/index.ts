/**
 * `npm run bench`: every headline figure measured side by side with its baseline in the same run,
 * printed as one table (figure, ours, baseline, ratio, target, pass/fail). Bounded to a few minutes;
 * each part cleans up after itself (rows, containers, images, files). Needs the services and images
 * scripts/setup.sh prepares. The parts also run alone: `npx tsx bench/<part>.ts`.
 */
import { benchEndToEnd } from "./end-to-end.ts";
import { benchIngest } from "./ingest.ts";
import { benchLeaderboardLoad } from "./leaderboard-load.ts";
import { printTable, run, type Row } from "./lib.ts";
import { benchUpload } from "./upload.ts";

// The upload comes first, in a fresh process: its figure includes the API's memory growth, which a
// heap grown by earlier parts would hide. The leaderboard, whose seeding and deletion of 60,000 rows
// keeps PostgreSQL writing for a while afterwards, comes last and is bound by the CPU. Each part
// starts after a `sync`: what one part wrote is on the disk before the next one measures.
const parts: [string, () => Promise<Row[]>][] = [
  ["upload", benchUpload],
  ["ingest", benchIngest],
  ["end to end", benchEndToEnd],
  ["leaderboard", benchLeaderboardLoad],
];

// The leaderboard part's load generator: missing, it would fail only after the other parts' minutes.
await run("wrk", ["--version"]).catch((err: NodeJS.ErrnoException) => {
  if (err.code !== "ENOENT") return;
  process.stderr.write("bench: needs wrk (`npm run bench` installs it; or: apt-get install wrk)\n");
  process.exit(2);
});

const rows: Row[] = [];
for (const [name, part] of parts) {
  await run("sync", []);
  const started = performance.now();
  process.stderr.write(`bench: ${name}...`);
  rows.push(...(await part()));
  process.stderr.write(` ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}
console.log(
  `Holdout benchmarks (${new Date().toISOString()}, ${(await import("node:os")).cpus().length} cores)`,
);
printTable(rows);
if (rows.some((r) => !r.pass)) process.exitCode = 1;
