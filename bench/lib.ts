// Shared by the benchmarks: one row of `npm run bench`'s table, and small measuring helpers.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

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
