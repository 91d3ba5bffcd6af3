/**
 * `npm run bench`: every headline figure measured side by side with its baseline in the same run,
 * printed as one table (figure, ours, baseline, ratio, target, pass/fail). Bounded to a few minutes;
 * each part cleans up after itself (rows, containers, images, files). Needs the services and images
 * scripts/setup.sh prepares. The parts also run alone: `npx tsx bench/<part>.ts`.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { printTable, ROWS_FLAG, run, type Row } from "./lib.ts";

// Each part runs in a process of its own, as the parts of Holdout do (the API receives uploads, a
// worker loads images): a part measured in a process that has just streamed gigabytes through other
// code is slowed by what that left behind (the image ingest by 0.1-0.15x after the upload part), which
// no deployment sees. The upload comes first: its figure includes the API's memory growth. The
// leaderboard, whose seeding and deletion of 60,000 rows keeps PostgreSQL writing for a while
// afterwards, comes last and is bound by the CPU. Each part starts after a `sync`: what one part
// wrote is on the disk before the next one measures.
const parts: [string, string][] = [
  ["upload", "upload.ts"],
  ["layered upload", "layered-upload.ts"],
  ["ingest", "ingest.ts"],
  ["end to end", "end-to-end.ts"],
  ["fair share", "fair-share.ts"],
  ["leaderboard", "leaderboard-load.ts"],
];

/** Runs bench/<file> in a new Node process with this one's loader flags; returns the rows it printed. */
function runPartProcess(file: string): Promise<Row[]> {
  const script = fileURLToPath(new URL(file, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script, ROWS_FLAG], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("[")) {
        reject(new Error(`bench/${file} failed (exit ${code}):\n${out}`));
      } else resolve(JSON.parse(last) as Row[]);
    });
  });
}

// The leaderboard part's load generator: missing, it would fail only after the other parts' minutes.
await run("wrk", ["--version"]).catch((err: NodeJS.ErrnoException) => {
  if (err.code !== "ENOENT") return;
  process.stderr.write("bench: needs wrk (`npm run bench` installs it; or: apt-get install wrk)\n");
  process.exit(2);
});

const rows: Row[] = [];
for (const [name, file] of parts) {
  await run("sync", []);
  const started = performance.now();
  process.stderr.write(`bench: ${name}...`);
  rows.push(...(await runPartProcess(file)));
  process.stderr.write(` ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}
console.log(
  `Holdout benchmarks (${new Date().toISOString()}, ${(await import("node:os")).cpus().length} cores)`,
);
printTable(rows);
if (rows.some((r) => !r.pass)) process.exitCode = 1;
