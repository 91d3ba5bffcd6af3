/**
 * Upload benchmark (not a test): streams a large "docker save"-shaped file to a real API on
 * loopback with curl (a separate process, so only the server's memory is measured here) and prints
 * the throughput and the API process's peak RSS growth. The point it checks: uploads are streamed
 * to disk, so memory stays flat whatever the file size. Baseline, in the same run: the same upload
 * at 1/8 of the size; the ratio of RSS growths should stay near 1, not near 8.
 * Run with `npm run bench:upload` (needs the services scripts/setup.sh starts).
 */
import { execFile } from "node:child_process";
import { open, rm } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { startStack } from "../tests/support/stack.ts";

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function makeFile(path: string, bytes: number) {
  const f = await open(path, "w");
  // gzip's magic number passes the API's format check; the rest is a sparse hole.
  await f.write(Buffer.from([0x1f, 0x8b]));
  await f.truncate(bytes);
  await f.close();
}

async function measure(stack: Awaited<ReturnType<typeof startStack>>, token: string, bytes: number) {
  const file = `/tmp/holdout-bench-upload-${bytes}.tar.gz`;
  await makeFile(file, bytes);
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  const { stdout } = await run("curl", [
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-H",
    `Authorization: Bearer ${token}`,
    "-F",
    "model=bench",
    "-F",
    `image=@${file}`,
    `${stack.url}/api/v1/submissions`,
  ]);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  await rm(file);
  if (stdout !== "202") throw new Error(`upload answered ${stdout}`);
  return { seconds, rssGrowth: peak - before };
}

const stack = await startStack({ maxUploadBytes: 4 * 1024 * MiB });
try {
  const { token } = await stack.createTeam();
  const big = 1024 * MiB;
  const small = big / 8;
  await measure(stack, token, 16 * MiB); // warm-up: first-request allocations are not the upload's
  const a = await measure(stack, token, small);
  const b = await measure(stack, token, big);
  for (const [label, bytes, r] of [
    ["baseline", small, a],
    ["large", big, b],
  ] as const) {
    console.log(
      `${label.padEnd(9)} ${(bytes / MiB).toFixed(0).padStart(5)} MiB in ${r.seconds.toFixed(2)} s ` +
        `(${(bytes / MiB / r.seconds).toFixed(0)} MiB/s), API peak RSS growth ${(r.rssGrowth / MiB).toFixed(1)} MiB`,
    );
  }
  console.log(
    `8x the bytes -> ${(b.rssGrowth / Math.max(a.rssGrowth, MiB)).toFixed(2)}x the RSS growth (1 MiB floor)`,
  );
} finally {
  await stack.close();
}
