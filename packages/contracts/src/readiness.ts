/** A named dependency check for /readyz: resolves when the dependency answers. */
export type ReadinessProbe = [name: string, probe: () => PromiseLike<unknown>];

export interface Readiness {
  ready: boolean;
  /** Each dependency by name: what /readyz shows (which one is down, never why). */
  checks: Record<string, "ok" | "down">;
  /** Why each unready dependency is down: for the log only (addresses, messages). */
  down: { name: string; error: string }[];
}

/**
 * Runs every probe at once, each bounded by `timeoutMs` (a dependency that does not answer in time
 * counts as down). The API's and the worker's /readyz share it.
 */
export async function checkReadiness(probes: ReadinessProbe[], timeoutMs: number): Promise<Readiness> {
  const results = await Promise.all(probes.map(([name, probe]) => checkOne(name, probe, timeoutMs)));
  const down = results.filter((r): r is { name: string; error: string } => r.error !== null);
  return {
    ready: down.length === 0,
    checks: Object.fromEntries(results.map((r) => [r.name, r.error === null ? "ok" : "down"])),
    down,
  };
}

async function checkOne(name: string, probe: () => PromiseLike<unknown>, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { name, error: null };
  } catch (err) {
    return { name, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
