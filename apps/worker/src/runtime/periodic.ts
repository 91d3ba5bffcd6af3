/**
 * Runs `task` every `intervalMs` (measured from the end of the previous run, so passes never
 * overlap) until stopped; a failed pass is reported to `onError` and the next one runs as planned.
 */
export function startPeriodic(
  task: () => Promise<void>,
  intervalMs: number,
  onError: (err: unknown) => void,
): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = task().catch(onError).finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
