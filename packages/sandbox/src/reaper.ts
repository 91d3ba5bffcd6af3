import type Docker from "dockerode";
import { DEADLINE_LABEL, isNotFound, labelFilters } from "./docker.ts";

export interface ReapOptions {
  /**
   * Only objects whose `holdout.deadline` label is before this time (epoch ms), or that carry none:
   * those are over whoever made them, so several workers sharing one engine can reap safely.
   */
  expiredBefore?: number;
  /** Leaves alone the objects whose labels this accepts (e.g. the runs a worker has in progress). */
  skip?: (labels: Record<string, string>) => boolean;
}

/**
 * Removes every container (running or not) and then every volume labelled `holdout.sandbox=1` and all
 * of `labelFilter`, e.g. a worker's own name at its startup, or with `expiredBefore` every run that
 * is certainly over (what a crashed worker left). Runs every removal even if one fails.
 */
export async function reapLeftovers(
  docker: Docker,
  labelFilter: Record<string, string>,
  opts: ReapOptions = {},
): Promise<{ containers: number; volumes: number }> {
  const filters = JSON.stringify({ label: labelFilters(labelFilter) });
  const reapable = (labels: Record<string, string> | null | undefined): boolean => {
    if (opts.skip?.(labels ?? {})) return false;
    if (opts.expiredBefore === undefined) return true;
    const deadline = Number(labels?.[DEADLINE_LABEL]);
    return !Number.isFinite(deadline) || deadline < opts.expiredBefore;
  };
  const failures: unknown[] = [];
  let containers = 0;
  let volumes = 0;
  for (const info of await docker.listContainers({ all: true, filters })) {
    if (!reapable(info.Labels)) continue;
    try {
      await docker.getContainer(info.Id).remove({ force: true, v: true });
      containers++;
    } catch (err) {
      if (!isNotFound(err)) failures.push(err);
    }
  }
  for (const info of (await docker.listVolumes({ filters })).Volumes ?? []) {
    if (!reapable(info.Labels)) continue;
    try {
      await docker.getVolume(info.Name).remove();
      volumes++;
    } catch (err) {
      // 409: still mounted by a container that is not ours to remove (not expired yet).
      if (!isNotFound(err)) failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, "could not remove every sandbox leftover");
  return { containers, volumes };
}
