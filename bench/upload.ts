/**
 * Upload benchmark (not a test): a 1 GiB `docker save`-shaped tarball streamed to a real API on
 * loopback with curl (a separate process, so only the server's memory is measured here), against a
 * bare node:http sink that reads the same multipart body from the same curl and discards it, in the
 * same run. Figures: throughput as a ratio to the sink's (target at least 0.6x: the API also parses
 * the multipart body, sniffs the format, computes the SHA-256 receipt and writes the file to the
 * disk), and the API process's peak RSS growth during the upload (target at most 64 MiB: uploads
 * are streamed to disk, never held in memory).
 *
 * Reference rows show what this machine charges for the parts of that work: `cp` followed by
 * `sync FILE` (the API answers 202 only once the file is on the disk, so this is the disk's own
 * speed), a bare `cp` (the page cache only: coreutils copies in the kernel, several GiB/s), the same
 * bare server writing the body to disk (same write buffer and fsync as the API, no parsing or
 * hashing), and SHA-256 of the same number of bytes already in memory (the receipt every upload
 * gets). Every operation starts after a `sync`, so none pays for another's writeback; medians of
 * alternating rounds.
 *   npm run bench:upload           (needs the services scripts/setup.sh starts; part of npm run bench)
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
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
 * The same curl upload into a bare node:http server: with `toDisk`, it writes the body to disk with
 * the same write buffer and fsync as the API; without, it reads the body and discards it (the sink the
 * API is measured against: what HTTP over loopback and the client cost on this machine). Neither
 * parses multipart, hashes, checks or touches the database.
 */
async function bareUpload(file: string, dir: string, toDisk: boolean): Promise<number> {
  const server = createServer((req, res) => {
    const sink = toDisk
      ? createWriteStream(path.join(dir, "bare.out"), { highWaterMark: 4 * MiB, flush: true })
      : new Writable({ write: (_chunk, _encoding, done) => done() });
    pipeline(req, sink).then(
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
    const sink: number[] = [];
    const bareDisk: number[] = [];
    const hashes: number[] = [];
    const uploads: { seconds: number; rssGrowth: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // The API and the sink it is held to take turns going first.
      const pair = [
        async () => uploads.push(await settled(() => upload(stack, token, file))),
        async () => sink.push(await settled(() => bareUpload(file, stack.dataDir, false))),
      ];
      for (const step of i % 2 === 0 ? pair : pair.reverse()) await step();
      await removeUploads(stack);
      copies.push(await settled(copy(true)));
      bareDisk.push(await settled(() => bareUpload(file, stack.dataDir, true)));
      cached.push(await settled(copy(false)));
      hashes.push(hashSeconds(bytes));
    }
    const rate = (seconds: number[]) => bytes / MiB / median(seconds);
    const oursRate = rate(uploads.map((u) => u.seconds));
    const sinkRate = rate(sink);
    const reference = (figure: string, value: number): Row => ({
      figure: `  reference: ${figure} (MiB/s)`,
      ours: value.toFixed(0),
      baseline: `${sinkRate.toFixed(0)} (sink)`,
      ratio: `${(value / sinkRate).toFixed(2)}x`,
      target: "(reference)",
      pass: true,
    });
    const growth = Math.max(...uploads.map((u) => u.rssGrowth)) / MiB;
    return [
      {
        figure: "upload 1 GiB over loopback, on disk (MiB/s)",
        ours: oursRate.toFixed(0),
        baseline: `${sinkRate.toFixed(0)} (bare node:http sink)`,
        ratio: `${(oursRate / sinkRate).toFixed(2)}x`,
        target: ">= 0.6x",
        pass: oursRate / sinkRate >= 0.6,
      },
      reference("cp+sync, the disk's own speed", rate(copies)),
      reference("bare node:http writing to disk", rate(bareDisk)),
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
