/**
 * Shares one run of `run` among concurrent callers without ever answering a caller with a run that
 * began before it called: at most one run is in flight, and callers arriving meanwhile all wait for
 * the next one, started when it ends. Under load a query is sent once per round instead of once per
 * caller, and every caller still sees whatever was committed before its call (read-your-writes).
 */
export function coalesced<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  let next: Promise<T> | null = null;
  const start = (): Promise<T> => {
    const current = run();
    inFlight = current;
    const clear = (): void => {
      if (inFlight === current) inFlight = null;
    };
    current.then(clear, clear);
    return current;
  };
  return () => {
    if (inFlight === null) return start();
    next ??= inFlight.then(settled, settled).then(() => {
      next = null;
      return start();
    });
    return next;
  };
}

function settled(): void {
  // Only the moment matters: the next run starts once the current one has ended, however it ended.
}
