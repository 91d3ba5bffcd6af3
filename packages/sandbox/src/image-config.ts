import { SandboxRejection } from "./errors.ts";

/** The parts of an image config (`docker image inspect`'s Os, Architecture, Config) we decide on. */
export interface ImageConfigSummary {
  os: string;
  architecture: string;
  entrypoint: string[];
  cmd: string[];
  volumes: string[];
  /** `NAME=value` entries, as the image sets them. */
  env: string[];
}

export function parseImageConfig(bytes: Buffer): ImageConfigSummary {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new SandboxRejection("the image config is not valid JSON", { code: "bad_config" });
  }
  const root = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const inner = (typeof root.config === "object" && root.config !== null ? root.config : {}) as Record<
    string,
    unknown
  >;
  const argv = (v: unknown): string[] => (isStringArray(v) ? v : typeof v === "string" ? [v] : []);
  const volumes =
    typeof inner.Volumes === "object" && inner.Volumes !== null ? Object.keys(inner.Volumes) : [];
  if (inner.Env !== undefined && inner.Env !== null && !isStringArray(inner.Env)) {
    throw new SandboxRejection("the image config's Env is not a list of strings", { code: "bad_config" });
  }
  return {
    os: typeof root.os === "string" ? root.os : "",
    architecture: typeof root.architecture === "string" ? root.architecture : "",
    entrypoint: argv(inner.Entrypoint),
    cmd: argv(inner.Cmd),
    volumes,
    env: inner.Env ?? [],
  };
}

/**
 * Image settings we refuse: a foreign OS or architecture would fail at start (and look like our
 * fault); nothing to run likewise; a VOLUME would be a writable mount outside /out and /tmp; an
 * environment variable that steers the dynamic loader or the container runtime's hooks (see
 * steeringVariable). Also applied to the engine's own inspect after loading, in case the two disagree.
 */
export function whyUnrunnable(
  c: ImageConfigSummary,
  architecture: string | undefined,
): { code: string; sentence: string } | undefined {
  if (c.os !== "linux") return { code: "platform", sentence: `the image is for "${c.os}", not linux` };
  if (architecture !== undefined && c.architecture !== architecture) {
    return {
      code: "platform",
      sentence: `the image is built for "${c.architecture}"; this server runs ${architecture} images (docker build --platform linux/${architecture})`,
    };
  }
  if (c.entrypoint.length === 0 && c.cmd.length === 0) {
    return {
      code: "no_command",
      sentence: "the image has neither ENTRYPOINT nor CMD, so there is nothing to run",
    };
  }
  if (c.volumes.length > 0) {
    return {
      code: "volume",
      sentence: `the image declares VOLUME ${c.volumes.join(", ")}; remove it: a model may write only to /out and /tmp`,
    };
  }
  const steering = c.env.map(steeringVariable).find((v) => v !== undefined);
  if (steering !== undefined) {
    return {
      code: "env_steering",
      sentence: `the image sets ${steering} in its environment, which steers the dynamic loader or the container runtime's hooks; set it in your entrypoint script instead (or clear it with \`ENV ${steering}=\`)`,
    };
  }
  return undefined;
}

/**
 * Variables that change how programs outside the model are loaded or run when they inherit the
 * image's environment (runtime hooks such as NVIDIA's, which ran with the container's environment
 * in CVE-2025-23266): the glibc loader (`LD_*`), its tunables and module paths (GLIBC_TUNABLES,
 * GCONV_PATH, LOCPATH, NLSPATH, MALLOC_*), and the NVIDIA container toolkit's own controls
 * (`NVIDIA_*`, and CUDA_VERSION, which puts it in legacy mode with every GPU visible). An empty
 * value steers nothing and is allowed: a Dockerfile cannot unset what its base image sets.
 */
const STEERING =
  /^(LD_[A-Z0-9_]*|NVIDIA_[A-Z0-9_]*|MALLOC_[A-Z0-9_]*|GLIBC_TUNABLES|GCONV_PATH|LOCPATH|NLSPATH|CUDA_VERSION)$/;

export function steeringVariable(entry: string): string | undefined {
  const eq = entry.indexOf("=");
  const name = eq === -1 ? entry : entry.slice(0, eq);
  const value = eq === -1 ? "" : entry.slice(eq + 1);
  return STEERING.test(name) && value !== "" ? name : undefined;
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}
