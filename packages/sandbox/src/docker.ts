import Docker from "dockerode";

/** Every container and volume this package creates carries this label, so a reaper can find leftovers. */
export const SANDBOX_LABEL = "holdout.sandbox";
/** One id per runSubmission call, on its volume and both containers. */
export const RUN_LABEL = "holdout.run";
/** `model` or `keeper`. */
export const ROLE_LABEL = "holdout.role";
/** Epoch milliseconds after which the run is certainly over and its objects are leftovers. */
export const DEADLINE_LABEL = "holdout.deadline";

export interface ConnectDockerOptions {
  /** Unix socket of the engine; the app passes it from its config (nothing here reads the environment). */
  socketPath?: string;
}

export function connectDocker(opts: ConnectDockerOptions = {}): Docker {
  return new Docker({ socketPath: opts.socketPath ?? "/var/run/docker.sock" });
}

/** docker-modem puts the HTTP status on its errors; 404 means the object is already gone. */
export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "statusCode" in err) {
    const code = err.statusCode;
    return typeof code === "number" ? code : undefined;
  }
  return undefined;
}

/** Whether the engine has an image by that ID or name; any other failure to ask it throws. */
export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw new Error(`could not ask the Docker engine about the image ${ref}`, { cause: err });
  }
}

/** `filters.label` entries: the sandbox label plus the caller's `key=value` pairs, all of which must match. */
export function labelFilters(labels: Record<string, string>): string[] {
  return [`${SANDBOX_LABEL}=1`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
}
