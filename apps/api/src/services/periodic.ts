/** Where a periodic task says what it did and what went wrong. */
export interface PeriodicLog {
  info: (o: object, m: string) => void;
  error: (o: object, m: string) => void;
}

/**
 * Runs `task` now and then every `intervalMs` after each run ends (runs never overlap), logging
 * what it reports (`done` returns a message, or null for nothing worth a line) and its failures,
 * which never stop the next run. The returned function stops it and waits for the first run.
 */
export function startPeriodic<T extends object>(
  task: () => Promise<T>,
  intervalMs: number,
  log: PeriodicLog,
  words: { done: (result: T) => string | null; failed: string },
): () => Promise<void> {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const run = async () => {
    try {
      const result = await task();
      const message = words.done(result);
      if (message !== null) log.info({ result }, message);
    } catch (err) {
      log.error({ err }, words.failed);
    }
    if (!stopped) timer = setTimeout(() => void run(), intervalMs).unref();
  };
  const first = run();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await first;
  };
}

/**
 * A sweep's steps, each tried whatever failed before it (one thing that cannot be cleaned keeps
 * nothing else from being cleaned); `finish` then throws every failure at once.
 */
export class EveryStep {
  readonly #failures: unknown[] = [];

  async attempt(step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.#failures.push(err);
    }
  }

  /** Throws an AggregateError naming `what` (e.g. "the layer store's sweep") if any step failed. */
  finish(what: string): void {
    const failures = this.#failures;
    if (failures.length > 0)
      throw new AggregateError(failures, `${failures.length} step(s) of ${what} failed`);
  }
}
