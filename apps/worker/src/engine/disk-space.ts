import { statfs } from "node:fs/promises";

/** Free space of one filesystem: what an unprivileged writer may still use (statfs bavail). */
export interface FreeSpace {
  path: string;
  freeBytes: number;
}

export interface DiskSpaceOptions {
  /**
   * The engine's data root (`docker info` DockerRootDir) as this process sees it; null when it cannot
   * (a worker in a container without it mounted): then only the work dir is checked.
   */
  dockerRootDir: string | null;
  /** HOLDOUT_WORK_DIR: smoke samples and bundle workspaces. */
  workDir: string;
  /** Below this, on either, the worker is not ready and starts no load (HOLDOUT_DISK_MIN_FREE_MB). */
  minFreeBytes: number;
}

export interface DiskReport {
  dockerRoot: FreeSpace | null;
  workDir: FreeSpace;
  minFreeBytes: number;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.floor(bytes / MiB);

export async function freeSpace(path: string): Promise<FreeSpace> {
  const s = await statfs(path);
  return { path, freeBytes: s.bavail * s.bsize };
}

/**
 * The worker's view of the disks a run fills: the engine's data root (a loaded image lands there,
 * unpacked) and its own work dir. Running out is the host's fault, not the model's: the worker checks
 * before it starts a load and, short of space, hands the submission back to the queue uncharged
 * rather than start a load it knows cannot fit (for a while: see processors/disk-wait.ts).
 */
export class DiskSpace {
  constructor(private readonly opts: DiskSpaceOptions) {}

  async measure(): Promise<DiskReport> {
    const [dockerRoot, workDir] = await Promise.all([
      this.opts.dockerRootDir === null ? null : freeSpace(this.opts.dockerRootDir),
      freeSpace(this.opts.workDir),
    ]);
    return { dockerRoot, workDir, minFreeBytes: this.opts.minFreeBytes };
  }

  /**
   * Why a load of `loadBytes` into the engine should not start now (one sentence for the operator),
   * or null when it fits with the reserve left over. `loadBytes` is the least the load writes (an
   * archive's layers are stored at least at their own size; compressed ones expand), so the
   * reserve must also cover what layers expand to.
   */
  async shortfall(loadBytes: number): Promise<string | null> {
    const report = await this.measure();
    return shortOf(report, loadBytes);
  }

  /** For /readyz: resolves while both have the reserve free, else rejects saying which is short. */
  async check(): Promise<DiskReport> {
    const report = await this.measure();
    const short = shortOf(report, 0);
    if (short !== null) throw new Error(short);
    return report;
  }
}

function shortOf(report: DiskReport, loadBytes: number): string | null {
  const { dockerRoot, workDir, minFreeBytes } = report;
  const problems: string[] = [];
  if (dockerRoot && dockerRoot.freeBytes - loadBytes < minFreeBytes) {
    problems.push(
      `the Docker engine's data root ${dockerRoot.path} has ${mib(dockerRoot.freeBytes)} MiB free` +
        (loadBytes > 0 ? `, a load needs ${mib(loadBytes)} MiB` : "") +
        ` and ${mib(minFreeBytes)} MiB must stay free`,
    );
  }
  if (workDir.freeBytes < minFreeBytes) {
    problems.push(
      `the work dir ${workDir.path} has ${mib(workDir.freeBytes)} MiB free, less than ${mib(minFreeBytes)} MiB`,
    );
  }
  return problems.length === 0 ? null : `${problems.join("; ")} (HOLDOUT_DISK_MIN_FREE_MB)`;
}
