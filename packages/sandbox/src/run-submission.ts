import { randomUUID } from "node:crypto";
import type Docker from "dockerode";
import { CappedLog, demultiplex } from "./capped-log.ts";
import {
  checkLimits,
  DEFAULT_ARGS,
  keeperConfig,
  OUT,
  outVolumeOptions,
  PREDICTIONS,
  submissionConfig,
  tmpVolumeOptions,
  type GpuGrant,
  type RunLimits,
} from "./container-config.ts";
import { DEADLINE_LABEL, isNotFound, ROLE_LABEL, RUN_LABEL, SANDBOX_LABEL, statusCodeOf } from "./docker.ts";
import { armExitWait } from "./exit-wait.ts";
import { describeListing, listDirectory, readRegularFile } from "./read-output.ts";

export type Verdict = "ok" | "timeout" | "out_of_memory" | "nonzero_exit" | "no_output";

export interface RunSubmissionOptions {
  /** `sha256:…`, as returned by loadImage. Never a tag: tags can be moved by any `docker load`. */
  imageId: string;
  /** The test set's public/ directory, as a path valid on the engine's host; mounted read-only. */
  workspaceHostDir: string;
  /** Arguments appended to the image's ENTRYPOINT + CMD; default `test_image_paths.csv /out/predictions.csv`. */
  cmd?: string[];
  /**
   * The whole argv instead of the image's ENTRYPOINT + CMD + `cmd`: a code bundle's command, run in
   * the (trusted) runtime image. Must name a program.
   */
  command?: string[];
  limits: RunLimits;
  /** Cores to pin the model to (`0-1`, `2,5`); Sandbox picks them from its pool. Default: no pinning. */
  cpusetCpus?: string;
  /** GPUs for this run; none unless granted. */
  gpu?: GpuGrant;
  /** Added to every container and volume of the run (with `holdout.sandbox=1`) for reapLeftovers. */
  labels?: Record<string, string>;
  /** Aborting kills the model, cleans up, and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RunResult {
  verdict: Verdict;
  /** The model's exit code; null when we killed it for running too long. */
  exitCode: number | null;
  /** From calling start() to the exit, in milliseconds (includes the runtime's ~0.2 s start-up). */
  durationMs: number;
  /** stdout and stderr interleaved; past limits.logBytes, its head and tail around a marker. */
  log: string;
  /** Whether the model printed more than limits.logBytes (then `log` ends with a marker saying so). */
  logTruncated: boolean;
  /** /out/predictions.csv when the verdict is ok, else null. */
  predictions: Buffer | null;
  /** One sentence for the team explaining the verdict. */
  message: string;
}

/** After the exit, the attach stream ends as soon as the engine has flushed it; do not hang if it does not. */
const LOG_DRAIN_MS = 5_000;
/**
 * Time after the wall clock by which a run has certainly settled (load is before, reading /out and
 * cleanup after). Past it, the run's objects are leftovers whoever created them; see reaper.ts.
 */
const RUN_GRACE_MS = 15 * 60_000;

/**
 * Runs a loaded image against the test set in a hardened container (see container-config.ts) and
 * reports what happened. A model's misbehaviour is a verdict, never an exception; exceptions mean the
 * infrastructure failed. Every container and the volume are removed before this settles.
 */
export async function runSubmission(
  docker: Docker,
  /** The keeper's image ID (`sha256:…`): never a tag, which any `docker load` could move. */
  keeperImageId: string,
  opts: RunSubmissionOptions,
): Promise<RunResult> {
  checkLimits(opts.limits);
  if (opts.command !== undefined && (opts.command[0] ?? "") === "") {
    throw new Error("a run's command must name a program");
  }
  const id = randomUUID();
  const deadline = Date.now() + opts.limits.wallClockMs + RUN_GRACE_MS;
  const labels = {
    ...opts.labels,
    [SANDBOX_LABEL]: "1",
    [RUN_LABEL]: id,
    [DEADLINE_LABEL]: String(deadline),
  };
  const names = {
    volume: `holdout-out-${id}`,
    tmp: `holdout-tmp-${id}`,
    keeper: `holdout-keeper-${id}`,
    model: `holdout-run-${id}`,
  };
  // Registered before each create, by name: a create whose reply was lost still gets cleaned up.
  const created = { containers: [] as string[], volumes: [] as string[] };

  let outcome: { ok: true; result: RunResult } | { ok: false; error: unknown };
  try {
    opts.signal?.throwIfAborted();
    // Independent engine round trips run together: they are most of a short run's overhead.
    created.volumes.push(names.volume, names.tmp);
    const [image] = await allSettled([
      docker.getImage(opts.imageId).inspect(),
      // tmpfs volumes: the size cap is the kernel's (ENOSPC), and nothing reaches the host's disk.
      allSettled([
        docker.createVolume({
          Name: names.volume,
          Driver: "local",
          DriverOpts: outVolumeOptions(opts.limits),
          Labels: labels,
        }),
        docker.createVolume({
          Name: names.tmp,
          Driver: "local",
          DriverOpts: tmpVolumeOptions(opts.limits),
          Labels: labels,
        }),
      ]),
    ]);

    created.containers.push(names.model, names.keeper);
    const [keeper, model] = await allSettled([
      (async () => {
        const keeper = await docker.createContainer(
          keeperConfig({
            name: names.keeper,
            image: keeperImageId,
            volume: names.volume,
            labels: { ...labels, [ROLE_LABEL]: "keeper" },
          }),
        );
        // The tmpfs lives while some container mounts it; the keeper keeps it after the model exits.
        await keeper.start();
        return keeper;
      })(),
      docker.createContainer(
        submissionConfig({
          name: names.model,
          image,
          workspaceHostDir: opts.workspaceHostDir,
          volume: names.volume,
          tmpVolume: names.tmp,
          args: opts.cmd ?? DEFAULT_ARGS,
          command: opts.command,
          limits: opts.limits,
          cpusetCpus: opts.cpusetCpus ?? "",
          gpu: opts.gpu,
          labels: { ...labels, [ROLE_LABEL]: "model" },
        }),
      ),
    ]);
    outcome = { ok: true, result: await execute(docker, model, keeper, opts) };
  } catch (error) {
    outcome = { ok: false, error };
  }

  // Every step runs even when one fails (and when the run itself failed): the containers together,
  // then the volumes they mount.
  const failures: unknown[] = [];
  const settle = (step: Promise<void>) => step.catch((err: unknown) => void failures.push(err));
  await Promise.all(created.containers.map((name) => settle(removeContainer(docker, name))));
  await Promise.all(created.volumes.map((name) => settle(removeVolume(docker, name))));
  if (!outcome.ok) throw outcome.error; // leftovers of a failed cleanup still carry the label for the reaper
  if (failures.length > 0) throw new AggregateError(failures, `sandbox cleanup failed for run ${id}`);
  return outcome.result;
}

async function execute(
  docker: Docker,
  model: Docker.Container,
  keeper: Docker.Container,
  opts: RunSubmissionOptions,
): Promise<RunResult> {
  const { limits, signal } = opts;
  const log = new CappedLog(limits.logBytes);
  // Both armed before start(): a model that exits at once must neither lose output nor its exit.
  const output = await model.attach({ stream: true, stdout: true, stderr: true });
  const drained = demultiplex(output, (data) => log.push(data));
  drained.catch(() => undefined); // awaited below; an early rejection must not count as unhandled
  const wait = await armExitWait(docker, model.id);

  let stopReason: "timeout" | "aborted" | undefined;
  let rejectStop: (err: Error) => void = () => undefined;
  const killFailed = new Promise<never>((_, reject) => (rejectStop = reject));
  const stop = (reason: "timeout" | "aborted"): void => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    model.kill({ signal: "SIGKILL" }).catch((err: unknown) => {
      // 409: it exited on its own meanwhile, and the armed wait will say so.
      if (statusCodeOf(err) !== 409 && !isNotFound(err)) {
        rejectStop(new Error("could not kill the model's container", { cause: err }));
      }
    });
  };
  const onAbort = (): void => stop("aborted");

  let timer: NodeJS.Timeout | undefined;
  const startedAt = performance.now();
  try {
    signal?.throwIfAborted();
    await model.start();
    timer = setTimeout(() => stop("timeout"), limits.wallClockMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort(); // aborted during start(), before the listener existed
    const status = await Promise.race([wait.exited, killFailed]);
    const durationMs = Math.round(performance.now() - startedAt);
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, LOG_DRAIN_MS).unref())]);
    signal?.throwIfAborted();

    const base = { durationMs, log: log.toString(), logTruncated: log.truncated, predictions: null };
    if (stopReason === "timeout") {
      const seconds = limits.wallClockMs / 1000;
      return {
        ...base,
        verdict: "timeout",
        exitCode: null,
        message: `the model ran longer than ${seconds} s and was stopped`,
      };
    }
    const exitCode = status.StatusCode;
    if (exitCode !== 0) {
      // OOMKilled is set if anything in the container was OOM-killed; it only decides a failed run.
      const { State: state } = await model.inspect();
      return state.OOMKilled
        ? {
            ...base,
            verdict: "out_of_memory",
            exitCode,
            message: `the model ran out of memory (limit ${Math.round(limits.memoryBytes / 2 ** 20)} MiB)`,
          }
        : { ...base, verdict: "nonzero_exit", exitCode, message: `the model exited with code ${exitCode}` };
    }
    const file = await readRegularFile(keeper, PREDICTIONS, limits.outputBytes);
    if (!file.found) {
      return {
        ...base,
        verdict: "no_output",
        exitCode,
        message: `${file.message}; ${await outContents(keeper)}`,
      };
    }
    return {
      ...base,
      verdict: "ok",
      exitCode,
      predictions: file.data,
      message: "the model wrote predictions",
    };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    wait.cancel();
    if ("destroy" in output && typeof output.destroy === "function") (output.destroy as () => void)();
  }
}

/** How many entries of /out a no_output message names. */
const OUT_LISTED = 20;

/**
 * What the model left in /out, for the no_output message (the hidden run's is kept for the
 * organizers only, as every hidden-run message). Listing is a courtesy: an engine that fails it
 * must not turn the model's fault into an infrastructure failure, so the message then says so.
 */
async function outContents(keeper: Docker.Container): Promise<string> {
  try {
    return describeListing(OUT, await listDirectory(keeper, OUT, OUT_LISTED));
  } catch {
    return `what ${OUT} holds could not be read`;
  }
}

async function removeContainer(docker: Docker, name: string): Promise<void> {
  try {
    // v: also anonymous volumes, should the engine have made any.
    await docker.getContainer(name).remove({ force: true, v: true });
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`could not remove container ${name}`, { cause: err });
  }
}

async function removeVolume(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove();
  } catch (err) {
    if (!isNotFound(err)) throw new Error(`could not remove volume ${name}`, { cause: err });
  }
}

/**
 * Promise.all that waits for every promise before rejecting: cleanup must not run while a create is
 * still in flight, or the object it creates afterwards would be left behind.
 */
async function allSettled<A, B>(promises: [Promise<A>, Promise<B>]): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled(promises);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  return [a.value, b.value];
}
