import type Docker from "dockerode";
import { isNotFound, labelFilters } from "./docker.ts";

/**
 * Removes every container (running or not) and then every volume labelled `holdout.sandbox=1` and all
 * of `labelFilter`, e.g. a worker's own id at its startup. Runs every removal even if one fails.
 */
export async function reapLeftovers(
  docker: Docker,
  labelFilter: Record<string, string>,
): Promise<{ containers: number; volumes: number }> {
  const filters = JSON.stringify({ label: labelFilters(labelFilter) });
  const failures: unknown[] = [];
  let containers = 0;
  let volumes = 0;
  for (const info of await docker.listContainers({ all: true, filters })) {
    try {
      await docker.getContainer(info.Id).remove({ force: true, v: true });
      containers++;
    } catch (err) {
      if (!isNotFound(err)) failures.push(err);
    }
  }
  for (const info of (await docker.listVolumes({ filters })).Volumes ?? []) {
    try {
      await docker.getVolume(info.Name).remove();
      volumes++;
    } catch (err) {
      if (!isNotFound(err)) failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, "could not remove every sandbox leftover");
  return { containers, volumes };
}
