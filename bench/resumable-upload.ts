/**
 * Resumable-upload benchmark (not a test): a 512 MiB `docker save`-shaped tarball sent to a real API
 * on loopback by `holdout submit --tarball` (tus, 256 MiB chunks, the server re-reads the finished file
 * once to check and hash it), against the multipart upload of the same file with curl in the same
 * run. Figures: throughput as a ratio to multipart's (target at least 0.5x), and the API process's
 * peak RSS growth during the resumable upload (target at most 64 MiB: chunks stream to disk).
 *   npx tsx bench/resumable-upload.ts     (needs the services scripts/setup.sh starts)
 */
import { mkdtemp, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../tests/support/env.ts";
import { startStack, type Stack } from "../tests/support/stack.ts";
import { closeBenchStack, curlSubmit, makeTarball, MiB, runPart, run, timed, type Row } from "./lib.ts";

const SIZE = 512 * MiB;
const CLI = path.join(REPO_ROOT, "apps", "cli", "bin", "holdout.js");

/** Times one upload in a child process while sampling this (the API's) process's memory. */
async function measure(send: () => Promise<unknown>) {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const { ms } = await timed(send);
  clearInterval(sampler);
  return { seconds: ms / 1000, rssGrowth: peak - before };
}

const multipart = (stack: Stack, token: string, file: string) => curlSubmit(stack.url, token, file, "bench");

const resumable = (stack: Stack, token: string, file: string) =>
  run(process.execPath, [
    CLI,
    "submit",
    "--tarball",
    file,
    "--model",
    "bench",
    "--server",
    stack.url,
    "--token",
    token,
  ]);

export async function benchResumableUpload(): Promise<Row[]> {
  const work = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-resumable-"));
  const stack = await startStack({ maxUploadBytes: 4 * 1024 * MiB });
  try {
    const { token } = await stack.createTeam();
    const file = path.join(work, "model.tar");
    await makeTarball(file, SIZE);
    const bytes = (await stat(file)).size;
    // Alternate, twice each, and keep each side's best: both see the same page cache and disk.
    const plain: number[] = [];
    const tus: { seconds: number; rssGrowth: number }[] = [];
    for (let i = 0; i < 2; i++) {
      plain.push((await measure(() => multipart(stack, token, file))).seconds);
      tus.push(await measure(() => resumable(stack, token, file)));
    }
    const oursRate = bytes / MiB / Math.min(...tus.map((u) => u.seconds));
    const baseRate = bytes / MiB / Math.min(...plain);
    const growth = Math.max(...tus.map((u) => u.rssGrowth)) / MiB;
    return [
      {
        figure: "resumable upload 512 MiB, CLI over tus (MiB/s)",
        ours: oursRate.toFixed(0),
        baseline: `${baseRate.toFixed(0)} (multipart)`,
        ratio: `${(oursRate / baseRate).toFixed(2)}x`,
        target: ">= 0.5x",
        pass: oursRate / baseRate >= 0.5,
      },
      {
        figure: "API memory growth, resumable 512 MiB (MiB)",
        ours: growth.toFixed(1),
        baseline: "-",
        ratio: "-",
        target: "<= 64 MiB",
        pass: growth <= 64,
      },
    ];
  } finally {
    await closeBenchStack(stack, work);
  }
}

await runPart(import.meta.url, benchResumableUpload);
