/**
 * Upload benchmark (not a test): a 1 GiB `docker save`-shaped tarball streamed to a real API on
 * loopback with curl (a separate process, so only the server's memory is measured here), against a
 * `cp` of the same file onto the same filesystem in the same run. Figures: throughput as a ratio to
 * the copy's (target at least 0.5x) and the API process's peak RSS growth during the upload (target
 * at most 64 MiB: uploads are streamed to disk, never held in memory).
 *
 * Like for like: the API answers 202 only once the file is on the disk (fsync), so the copy it is
 * compared with is `cp` followed by `sync FILE`. A bare `cp` only fills the page cache (coreutils
 * copies in the kernel, several GiB/s) and says nothing about the disk; it is printed as a reference
 * row. Two more reference rows show what this machine charges any server: a bare node:http server
 * that only writes the body, and SHA-256 of the same number of bytes already in memory (the receipt
 * every upload gets). Every operation starts after a `sync`, so none pays for another's writeback;
 * medians of alternating rounds.
 *   npm run bench:upload           (needs the services scripts/setup.sh starts; part of npm run bench)
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { startStack, type Stack } from "../tests/support/stack.ts";
import {
  closeBenchStack,
  curlSubmit,
  makeTarball,
  median,
  MiB,
  runPart,
  run,
  timed,
  type Row,
} from "./lib.ts";

const SIZE = 1024 * MiB;
const ROUNDS = 3;

/** Each measured upload's file is removed before the next operation, so the disk stays as it was. */
async function removeUploads(stack: Stack): Promise<void> {
  await rm(path.join(stack.dataDir, "uploads"), { recursive: true, force: true });
}

async function upload(stack: Stack, token: string, file: string) {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const { ms } = await timed(() => curlSubmit(stack.url, token, file, "bench"));
  clearInterval(sampler);
  return { seconds: ms / 1000, rssGrowth: peak - before };
}

/**
 * SHA-256 of 1 GiB already in memory, in this process: the part of the API's work that no faster
 * transfer can remove (every upload's digest is its receipt). A reference for the time budget.
 */
function hashSeconds(bytes: number): number {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const hash = createHash("sha256");
  const started = performance.now();
  for (let done = 0; done < bytes; done += chunk.length) hash.update(chunk);
  hash.digest();
  return (performance.now() - started) / 1000;
}

/**
 * The same curl upload into a bare node:http server that only writes the body to disk (with the same
 * write buffer and fsync as the API): no multipart parsing, hashing, checks or database. A reference
 * for what HTTP over loopback itself costs on this machine.
 */
async function bareUpload(file: string, dir: string): Promise<number> {
  const server = createServer((req, res) => {
    const out = createWriteStream(path.join(dir, "bare.out"), { highWaterMark: 4 * MiB, flush: true });
    pipeline(req, out).then(
      () => res.end("ok"),
      (err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const { ms } = await timed(() =>
      run("curl", ["-sS", "-o", "/dev/null", "-F", `image=@${file}`, `http://127.0.0.1:${port}/`]),
    );
    return ms / 1000;
  } finally {
    server.close();
    await rm(path.join(dir, "bare.out"), { force: true });
  }
}

export async function benchUpload(): Promise<Row[]> {
  const work = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-upload-"));
  const stack = await startStack({ maxUploadBytes: 4 * 1024 * MiB });
  try {
    const { token } = await stack.createTeam();
    const file = path.join(work, "model.tar");
    const small = path.join(work, "warmup.tar");
    await makeTarball(file, SIZE);
    await makeTarball(small, 16 * MiB);
    const bytes = (await stat(file)).size;
    await upload(stack, token, small); // first-request allocations are not the upload's
    const copy = (durable: boolean) => async (): Promise<number> => {
      const target = path.join(stack.dataDir, "copy.tar");
      const { ms } = await timed(() =>
        durable
          ? run("sh", ["-c", 'cp "$1" "$2" && sync "$2"', "sh", file, target])
          : run("cp", [file, target]),
      );
      await rm(target);
      return ms / 1000;
    };
    const settled = async <T>(work: () => Promise<T>): Promise<T> => {
      await run("sync", []);
      return work();
    };
    const copies: number[] = [];
    const cached: number[] = [];
    const bare: number[] = [];
    const hashes: number[] = [];
    const uploads: { seconds: number; rssGrowth: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      copies.push(await settled(copy(true)));
      uploads.push(await settled(() => upload(stack, token, file)));
      await removeUploads(stack);
      bare.push(await settled(() => bareUpload(file, stack.dataDir)));
      cached.push(await settled(copy(false)));
      hashes.push(hashSeconds(bytes));
    }
    const rate = (seconds: number[]) => bytes / MiB / median(seconds);
    const oursRate = rate(uploads.map((u) => u.seconds));
    const cpRate = rate(copies);
    const reference = (figure: string, value: number): Row => ({
      figure: `  reference: ${figure} (MiB/s)`,
      ours: value.toFixed(0),
      baseline: `${cpRate.toFixed(0)} (cp+sync)`,
      ratio: `${(value / cpRate).toFixed(2)}x`,
      target: "(reference)",
      pass: true,
    });
    const growth = Math.max(...uploads.map((u) => u.rssGrowth)) / MiB;
    return [
      {
        figure: "upload 1 GiB over loopback, on disk (MiB/s)",
        ours: oursRate.toFixed(0),
        baseline: `${cpRate.toFixed(0)} (cp+sync)`,
        ratio: `${(oursRate / cpRate).toFixed(2)}x`,
        target: ">= 0.5x",
        pass: oursRate / cpRate >= 0.5,
      },
      reference("bare node:http, no checks", rate(bare)),
      reference("cp to the page cache only", rate(cached)),
      reference("SHA-256 alone, in memory, no I/O", rate(hashes)),
      {
        figure: "API memory growth, 1 GiB upload (MiB)",
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

await runPart(import.meta.url, benchUpload);
