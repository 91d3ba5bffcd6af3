/**
 * A named check for /readyz: resolves when the dependency answers (or the condition holds). `failing`
 * is how /readyz words it when it does not: "unreachable" for a dependency unless given.
 */
export type ReadinessProbe = [name: string, probe: () => PromiseLike<unknown>, failing?: string];

export interface Readiness {
  ready: boolean;
  /** Each dependency by name: what /readyz shows (which one is down, never why). */
  checks: Record<string, "ok" | "down">;
  /** Why each unready dependency is down: for the log only (addresses, messages). */
  down: { name: string; error: string; failing: string }[];
}

/**
 * Runs every probe at once, each bounded by `timeoutMs` (a dependency that does not answer in time
 * counts as down). The API's and the worker's /readyz share it.
 */
export async function checkReadiness(probes: ReadinessProbe[], timeoutMs: number): Promise<Readiness> {
  const results = await Promise.all(
    probes.map(([name, probe, failing = "unreachable"]) => checkOne(name, probe, timeoutMs, failing)),
  );
  const down = results.filter((r): r is { name: string; error: string; failing: string } => r.error !== null);
  return {
    ready: down.length === 0,
    checks: Object.fromEntries(results.map((r) => [r.name, r.error === null ? "ok" : "down"])),
    down,
  };
}

async function checkOne(name: string, probe: () => PromiseLike<unknown>, timeoutMs: number, failing: string) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { name, error: null, failing };
  } catch (err) {
    return { name, error: err instanceof Error ? err.message : String(err), failing };
  } finally {
    clearTimeout(timer);
  }
}
