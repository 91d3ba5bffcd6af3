/**
 * What a worker applies to every run, as its configuration sets them: written with its heartbeat
 * and shown on the competition page, so the limits teams read are the ones in force, not a copy
 * that may drift. The API reads the stored JSON back with `workerLimitsOf`, trusting nothing.
 */
export interface WorkerLimits {
  memoryMb: number;
  cpus: number;
  /** The hidden run's wall clock, and the smoke run's. */
  timeoutSeconds: number;
  smokeTimeoutSeconds: number;
  /** The size of /out (predictions) and of /tmp (which counts against memory). */
  outputMb: number;
  tmpMb: number;
  pids: number;
  openFiles: number;
  /** Always none: a model never reaches a network. */
  network: "none";
  /** `none`, `all`, or the number of GPUs granted to each run. */
  gpus: "none" | "all" | number;
  /** An uploaded image's limits: its archive, unpacked, its layers; the architecture accepted (null: the engine's). */
  imageMaxMb: number;
  imageMaxUnpackedMb: number;
  imageMaxLayers: number;
  architecture: string | null;
  /** What a team reads of its hidden run's log. */
  hiddenLog: "none" | "tail";
  /** The competitions it serves (slugs); null: every one. */
  competitions: string[] | null;
}

const NUMBER_KEYS = [
  "memoryMb",
  "cpus",
  "timeoutSeconds",
  "smokeTimeoutSeconds",
  "outputMb",
  "tmpMb",
  "pids",
  "openFiles",
  "imageMaxMb",
  "imageMaxUnpackedMb",
  "imageMaxLayers",
] as const;

/** A heartbeat's stored limits, or null when they are missing or not of this shape (an older worker). */
export function workerLimitsOf(v: unknown): WorkerLimits | null {
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!NUMBER_KEYS.every((k) => typeof o[k] === "number" && Number.isFinite(o[k]))) return null;
  const gpus = o.gpus;
  if (!(gpus === "none" || gpus === "all" || (typeof gpus === "number" && gpus > 0))) return null;
  if (!(o.architecture === null || typeof o.architecture === "string")) return null;
  if (!(o.hiddenLog === "none" || o.hiddenLog === "tail")) return null;
  const competitions = o.competitions;
  if (!(
    competitions === null ||
    (Array.isArray(competitions) && competitions.every((c) => typeof c === "string"))
  ))
    return null;
  const n = (k: (typeof NUMBER_KEYS)[number]) => o[k] as number;
  return {
    memoryMb: n("memoryMb"),
    cpus: n("cpus"),
    timeoutSeconds: n("timeoutSeconds"),
    smokeTimeoutSeconds: n("smokeTimeoutSeconds"),
    outputMb: n("outputMb"),
    tmpMb: n("tmpMb"),
    pids: n("pids"),
    openFiles: n("openFiles"),
    network: "none",
    gpus,
    imageMaxMb: n("imageMaxMb"),
    imageMaxUnpackedMb: n("imageMaxUnpackedMb"),
    imageMaxLayers: n("imageMaxLayers"),
    architecture: o.architecture,
    hiddenLog: o.hiddenLog,
    competitions: competitions === null ? null : [...competitions],
  };
}
