// Shared by the benchmarks: one row of `npm run bench`'s table, and small measuring helpers.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import tar from "tar-stream";
import { deleteCompetition } from "@holdout/db";
import type { Stack } from "../tests/support/stack.ts";

export const run = promisify(execFile);
export const MiB = 1024 * 1024;

/** One figure measured side by side with its baseline, in the same run. */
export interface Row {
  figure: string;
  ours: string;
  baseline: string;
  /** ours relative to the baseline, in the direction the target is stated. */
  ratio: string;
  target: string;
  pass: boolean;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/** Runs a command, feeding it `stdin`; rejects with its stderr when it fails. */
export function runWithInput(cmd: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${err}`)),
    );
    // A command that fails before reading all of it closes the pipe: its exit code tells why.
    child.stdin.on("error", () => {});
    child.stdin.end(stdin);
  });
}

export function printTable(rows: Row[]): void {
  const header = ["figure", "ours", "baseline", "ratio", "target", "result"];
  const cells = rows.map((r) => [r.figure, r.ours, r.baseline, r.ratio, r.target, r.pass ? "pass" : "FAIL"]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const c of cells) console.log(line(c));
}

/** The flag with which a part prints its rows as JSON, for `npm run bench` to gather. */
export const ROWS_FLAG = "--rows";

/**
 * The entry point of a bench part run as its own process (`npx tsx bench/<part>.ts`): measures,
 * then prints the table, or with ROWS_FLAG the rows as one JSON line. Does nothing when the file
 * is imported.
 */
export async function runPart(moduleUrl: string, part: () => Promise<Row[]>): Promise<void> {
  if (moduleUrl !== `file://${process.argv[1]}`) return;
  const rows = await part();
  if (process.argv.includes(ROWS_FLAG)) console.log(JSON.stringify(rows));
  else printTable(rows);
}

/**
 * Submits `file` as an image with curl's multipart upload, as the participant guide shows (the figure
 * is then the server's, not a client library's); returns the new submission's id, or throws unless
 * the answer is 202.
 */
export async function curlSubmit(
  apiUrl: string,
  token: string,
  file: string,
  model: string,
): Promise<string> {
  const { stdout } = await run("curl", [
    "-sS",
    "-w",
    "\n%{http_code}",
    "-H",
    `Authorization: Bearer ${token}`,
    "-F",
    `model=${model}`,
    "-F",
    `image=@${file}`,
    `${apiUrl}/api/v1/submissions`,
  ]);
  const cut = stdout.lastIndexOf("\n");
  const body = stdout.slice(0, cut);
  if (stdout.slice(cut + 1) !== "202") throw new Error(`upload answered ${stdout.slice(cut + 1)}: ${body}`);
  return (JSON.parse(body) as { id: string }).id;
}

/** A plain tar shaped like `docker save` output: manifest.json and one layer of random bytes. */
export async function makeTarball(file: string, bytes: number): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(file));
  pack.entry({ name: "manifest.json" }, "[]");
  const layer = pack.entry({ name: "blobs/sha256/layer", size: bytes });
  const block = randomBytes(16 * MiB);
  for (let done = 0; done < bytes; done += block.length) {
    const chunk = block.subarray(0, Math.min(block.length, bytes - done));
    if (!layer.write(chunk)) await new Promise<void>((resolve) => layer.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => layer.end(() => resolve()));
  pack.finalize();
  await written;
}

/**
 * The baseline run: `docker run --rm` of `image` on a test set's public/ directory, with no network,
 * as nobody, writing /out/predictions.csv into `out` (checked, then removed). Returns milliseconds.
 */
export async function plainDockerRun(image: string, publicDir: string, out: string): Promise<number> {
  const { ms } = await timed(() =>
    run("docker", [
      "run",
      "--rm",
      "--network",
      "none",
      "-u",
      "65534:65534",
      "-w",
      "/workspace",
      "-v",
      `${publicDir}:/workspace:ro`,
      "-v",
      `${out}:/out`,
      image,
      "test_image_paths.csv",
      "/out/predictions.csv",
    ]),
  );
  const predictions = path.join(out, "predictions.csv");
  if (!existsSync(predictions)) throw new Error("the plain run wrote nothing");
  await rm(predictions);
  return ms;
}

/** Deletes a bench's competition (its rows cascade), stops its stack and removes its files. */
export async function closeBenchStack(stack: Stack, work?: string): Promise<void> {
  await deleteCompetition(stack.db, stack.competition.id).catch((err: unknown) => {
    console.error("could not delete the bench competition", err);
  });
  await stack.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
}
