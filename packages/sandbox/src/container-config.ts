import { posix } from "node:path";
import type Docker from "dockerode";

export interface RunLimits {
  /** Memory, and memory + swap (equal: no swap). */
  memoryBytes: number;
  pids: number;
  /** CPU quota, in CPUs (may be fractional); the run is also pinned to ceil(cpus) cores. */
  cpus: number;
  wallClockMs: number;
  /** Size of the /out tmpfs. */
  outputBytes: number;
  /** Size of the /tmp tmpfs (counts against memoryBytes: tmpfs pages are charged to who writes them). */
  tmpBytes: number;
  /** Log bytes kept: the first three quarters and the last quarter of this many. */
  logBytes: number;
  /** RLIMIT_NOFILE. */
  openFiles: number;
}

/** A GPU grant: only by explicit device request, never by default. */
export type GpuGrant = { count: number } | { deviceIds: string[] };

export const WORKSPACE = "/workspace";
export const OUT = "/out";
export const TMP = "/tmp";
export const PREDICTIONS = `${OUT}/predictions.csv`;
export const DEFAULT_ARGS = ["test_image_paths.csv", PREDICTIONS];
export const NOBODY = "65534:65534";

// dockerode's types lack HostConfig.CgroupnsMode (API 1.41) and BindOptions.NonRecursive (1.40), and
// insist on every VolumeOptions field.
type Mount = Omit<Docker.MountSettings, "Source" | "BindOptions" | "VolumeOptions"> & {
  Source?: string;
  BindOptions?: { NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean };
};
type HostConfig = Docker.HostConfig & { CgroupnsMode?: "private" | "host" };

/**
 * The engine reads 0 (and -1) as "unlimited" for several of these: a misconfigured limit must fail
 * loudly rather than quietly lift a restriction.
 */
export function checkLimits(limits: RunLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new Error(`sandbox limit ${name} must be a positive number, got ${String(value)}`);
    }
  }
  if (limits.memoryBytes < 6 * 1024 * 1024)
    throw new Error("sandbox limit memoryBytes must be at least 6 MiB");
}

/**
 * What every container we start has in common: no network, no privileges, no way to gain any. The
 * engine's default seccomp profile stays on: SecurityOpt must never name `seccomp=unconfined`.
 */
function lockedDown(
  limits: { memoryBytes: number; pids: number; openFiles: number; fileBytes: number },
  mounts: Mount[],
): HostConfig {
  return {
    NetworkMode: "none",
    ReadonlyRootfs: true,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    Privileged: false,
    Devices: [],
    Memory: limits.memoryBytes,
    MemorySwap: limits.memoryBytes, // equal: no swap
    PidsLimit: limits.pids,
    IpcMode: "private",
    CgroupnsMode: "private", // the cgroup v1 default is the host's namespace
    // No core files: they would only eat the /tmp or /out quota. (A host core_pattern pipe ignores this.)
    // fsize: no single file larger than the largest writable filesystem, wherever it is written.
    Ulimits: [
      { Name: "core", Soft: 0, Hard: 0 },
      { Name: "nofile", Soft: limits.openFiles, Hard: limits.openFiles },
      { Name: "fsize", Soft: limits.fileBytes, Hard: limits.fileBytes },
    ],
    // Output reaches us through attach; the default json-file driver would also write it, unbounded,
    // to the host's disk.
    LogConfig: { Type: "none", Config: {} },
    Mounts: mounts as Docker.MountSettings[],
  };
}

/** The trusted container that holds the /out tmpfs mounted for as long as we need to read it. */
export function keeperConfig(p: {
  name: string;
  image: string;
  volume: string;
  labels: Record<string, string>;
}): Docker.ContainerCreateOptions {
  return {
    name: p.name,
    Image: p.image,
    Entrypoint: ["sleep"],
    Cmd: ["infinity"],
    User: NOBODY,
    NetworkDisabled: true,
    Labels: p.labels,
    Healthcheck: { Test: ["NONE"] },
    HostConfig: lockedDown({ memoryBytes: 32 * 1024 * 1024, pids: 8, openFiles: 64, fileBytes: 1 << 20 }, [
      { Type: "volume", Source: p.volume, Target: OUT },
    ]),
  };
}

/**
 * The options of the run's two tmpfs volumes (the local driver mounts them on the engine's host when a
 * container first uses them). /out belongs to nobody, and only it may read it. /tmp is a volume too,
 * not a tmpfs mount: for a tmpfs mount on a directory the image already has, runc before 1.2 resets
 * the mount's mode to that directory's (an image whose /tmp is 0755 root left the model no scratch
 * space whatever mode we asked for), and it leaves a volume's mode alone. Sticky and world-writable,
 * as /tmp is anywhere.
 */
export function outVolumeOptions(limits: Pick<RunLimits, "outputBytes">): Record<string, string> {
  return { type: "tmpfs", device: "tmpfs", o: `size=${limits.outputBytes},uid=65534,mode=0700` };
}

export function tmpVolumeOptions(limits: Pick<RunLimits, "tmpBytes">): Record<string, string> {
  return {
    type: "tmpfs",
    device: "tmpfs",
    o: `size=${limits.tmpBytes},mode=1777,noexec,nosuid,nodev`,
  };
}

/**
 * The submission's container (docs/architecture.md, "The model's container"): the image's ENTRYPOINT +
 * CMD with `args` appended, in a read-only /workspace, writing only to /out and /tmp (HOME and TMPDIR
 * point there).
 */
export function submissionConfig(p: {
  name: string;
  image: Docker.ImageInspectInfo;
  workspaceHostDir: string;
  volume: string;
  /** The run's /tmp volume (tmpVolumeOptions). */
  tmpVolume: string;
  args: string[];
  /** The whole argv (a code bundle's command): replaces the image's ENTRYPOINT, CMD and `args`. */
  command?: string[] | undefined;
  limits: RunLimits;
  /** Cores the run is pinned to, as the engine writes them: `0-1`, `2,5`. */
  cpusetCpus: string;
  gpu?: GpuGrant | undefined;
  labels: Record<string, string>;
}): Docker.ContainerCreateOptions {
  const { Config } = p.image;
  const { limits } = p;
  const entrypoint = p.command ? p.command.slice(0, 1) : toArgv(Config.Entrypoint);
  const cmd = p.command ? p.command.slice(1) : [...toArgv(Config.Cmd), ...p.args];
  const threads = String(Math.max(1, Math.floor(limits.cpus)));
  const mounts: Mount[] = [
    // NonRecursive: before API 1.44 a read-only bind leaves submounts writable; this hides them instead.
    {
      Type: "bind",
      Source: p.workspaceHostDir,
      Target: WORKSPACE,
      ReadOnly: true,
      BindOptions: { NonRecursive: true },
    },
    // NoCopy: the image's own /out and /tmp content (and, with it, their owner) must not seed the
    // volumes.
    { Type: "volume", Source: p.volume, Target: OUT, VolumeOptions: { NoCopy: true } },
    { Type: "volume", Source: p.tmpVolume, Target: TMP, VolumeOptions: { NoCopy: true } },
    // Defence in depth: loadImage rejects images that declare a VOLUME, which would otherwise get a
    // writable, unbounded host volume despite the read-only root. Should one get here, cover each.
    ...[...new Set(Object.keys(Config.Volumes ?? {}).map((v) => posix.normalize(v).replace(/(.)\/$/, "$1")))]
      .filter((target) => ![WORKSPACE, OUT, TMP].includes(target))
      .map((target): Mount => ({
        Type: "tmpfs",
        Target: target,
        TmpfsOptions: { SizeBytes: limits.tmpBytes, Mode: 0o1777 },
      })),
  ];
  return {
    name: p.name,
    Image: p.image.Id,
    // With no entrypoint the first CMD element is the program, which is what an empty list means.
    Entrypoint: entrypoint,
    Cmd: cmd,
    WorkingDir: WORKSPACE,
    User: NOBODY,
    Env: [
      `HOLDOUT_INPUT=${WORKSPACE}/test_image_paths.csv`,
      `HOLDOUT_OUTPUT=${PREDICTIONS}`,
      `HOME=${TMP}`,
      `TMPDIR=${TMP}`,
      // The NVIDIA runtime hook exposes every GPU when this is unset; `void` exposes none.
      ...(p.gpu === undefined ? ["NVIDIA_VISIBLE_DEVICES=void"] : []),
      ...["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"].map(
        (name) => `${name}=${threads}`,
      ),
    ],
    NetworkDisabled: true,
    Hostname: "sandbox",
    Healthcheck: { Test: ["NONE"] },
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    Labels: p.labels,
    HostConfig: {
      // fsize above both tmpfs sizes: filling one must give ENOSPC (an error), not SIGXFSZ (a kill).
      ...lockedDown(
        { ...limits, fileBytes: Math.max(limits.outputBytes, limits.tmpBytes) + (1 << 20) },
        mounts,
      ),
      Init: true, // reaps zombies and forwards signals; also reports an exec failure in the log
      NanoCpus: Math.round(limits.cpus * 1e9),
      CpusetCpus: p.cpusetCpus,
      ...(p.gpu === undefined ? {} : { DeviceRequests: [gpuRequest(p.gpu)] }),
      ShmSize: 64 * 1024 * 1024,
      AutoRemove: false, // races with wait and inspect; we remove explicitly
    },
  };
}

function toArgv(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

function gpuRequest(gpu: GpuGrant): Docker.DeviceRequest {
  return "count" in gpu
    ? { Driver: "nvidia", Count: gpu.count, Capabilities: [["gpu"]] }
    : { Driver: "nvidia", DeviceIDs: gpu.deviceIds, Capabilities: [["gpu"]] };
}
