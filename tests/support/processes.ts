import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { REPO_ROOT } from "./env.ts";

/**
 * Real child processes for the fault tests and the soak benchmark: the API, workers and private
 * services run as separate processes so that a SIGKILL is a real crash. Every process started here
 * is also killed when the test process exits, however it exits, so none outlives its test.
 */

const OUTPUT_KEPT = 256 * 1024;
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  isRunning(): boolean;
  /** The last 256 KiB of stdout and stderr, interleaved. */
  output(): string;
  /** Resolves with the first output line matching `pattern` (already printed ones count too). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends `signal` and waits for the exit; after `graceMs` without one, SIGKILL. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitStatus>;
  /** Writes to its standard input (only when started with `input: true`). */
  write(text: string): void;
}

export interface SpawnOptions {
  env: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Keep its standard input open for `write` (else it reads nothing). */
  input?: boolean;
}

/** Only what a process needs from ours: no DATABASE_URL or other setting leaks in by accident. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export function spawnProcess(name: string, command: string, args: string[], opts: SpawnOptions): Proc {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env,
    stdio: [opts.input === true ? "pipe" : "ignore", "pipe", "pipe"],
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  live.add(child);
  let text = "";
  let partial = "";
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const onData = (data: Buffer) => {
    const chunk = data.toString("utf8");
    text = (text + chunk).slice(-OUTPUT_KEPT);
    partial += chunk;
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    for (const line of complete) {
      if (lines.length >= 20_000) lines.shift();
      lines.push(line);
      for (const watch of watchers) watch(line);
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  let running = true;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const pid = child.pid;

  return {
    name,
    pid,
    exited,
    isRunning: () => running,
    output: () => text,
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer);
          watchers.delete(watch);
          fn();
        };
        const watch = (line: string) => {
          if (pattern.test(line)) done(() => resolve(line));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms`))),
          timeoutMs,
        );
        watchers.add(watch);
        void exited.then((status) =>
          done(() =>
            reject(
              new Error(
                `${name} exited (${status.code ?? status.signal}) before printing ${pattern}:\n${text.slice(-4000)}`,
              ),
            ),
          ),
        );
      });
    },
    async stop(signal = "SIGTERM", graceMs = 30_000) {
      if (!running) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
    write(text) {
      if (!child.stdin) throw new Error(`${name} was started without input`);
      child.stdin.write(text);
    },
  };
}

/** A TCP port nobody listens on right now (the kernel picks it; a tiny race is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Runs `main.ts`/`server.ts` as `npm run worker`/`npm run api` do: node with the tsx loader. */
function spawnTs(name: string, entry: string, env: Record<string, string>): Proc {
  return spawnProcess(name, process.execPath, ["--import", "tsx", path.join(REPO_ROOT, entry)], {
    env: { ...baseEnv(), ...env },
  });
}

export interface ApiProc extends Proc {
  url: string;
}

/** Starts `apps/api/src/server.ts` on a kernel-chosen port; resolves once it listens. */
export async function startApiProcess(name: string, env: Record<string, string>): Promise<ApiProc> {
  const proc = spawnTs(name, "apps/api/src/server.ts", {
    PORT: "0",
    HOST: "127.0.0.1",
    HOLDOUT_OPS_PORT: "0",
    ...env,
  });
  try {
    // fastify logs its address at info level once it listens.
    const line = await proc.waitForLine(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 120_000);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0] ?? "";
    return Object.assign(proc, { url });
  } catch (err) {
    await proc.stop("SIGKILL");
    throw err;
  }
}

/** Starts `apps/worker/src/main.ts`; resolves once it takes jobs. */
export async function startWorkerProcess(name: string, env: Record<string, string>): Promise<Proc> {
  const proc = spawnTs(name, "apps/worker/src/main.ts", env);
  try {
    await proc.waitForLine(/"msg":"worker started"/, 120_000);
    return proc;
  } catch (err) {
    await proc.stop("SIGKILL");
    throw err;
  }
}

/**
 * Cleanup steps run last-in first-out, each even when an earlier one fails; the failures are
 * reported together at the end.
 */
export class Cleanup {
  #steps: { label: string; step: () => Promise<unknown> }[] = [];

  add(label: string, step: () => Promise<unknown>): void {
    this.#steps.push({ label, step });
  }

  async run(): Promise<void> {
    const failures: Error[] = [];
    while (this.#steps.length > 0) {
      const { label, step } = this.#steps.pop()!;
      try {
        await step();
      } catch (err) {
        failures.push(new Error(`cleanup step "${label}" failed`, { cause: err }));
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cleanup step(s) failed`);
  }
}
