export {
  connectDocker,
  DEADLINE_LABEL,
  ROLE_LABEL,
  RUN_LABEL,
  SANDBOX_LABEL,
  type ConnectDockerOptions,
} from "./docker.ts";
export { SandboxRejection } from "./errors.ts";
export { engineStorage, resolveTrustedImage, type EngineStorage, type TrustedImage } from "./engine-info.ts";
export {
  DEFAULT_TARBALL_LIMITS,
  inspectImageTarball,
  type ImagePolicy,
  type ImageTarballInfo,
  type TarballLimits,
} from "./image-tarball.ts";
export { steeringVariable } from "./image-config.ts";
export type { LoadedImage } from "./load-image.ts";
export {
  ImageGone,
  LEASE_REPOSITORY,
  type HeldLease,
  type ImageLease,
  type Released,
} from "./image-lease.ts";
export { submissionConfig, type GpuGrant, type RunLimits } from "./container-config.ts";
export { CpuPool, parseCpuList } from "./cpu-pool.ts";
export { CappedLog } from "./capped-log.ts";
export { runSubmission, type RunResult, type RunSubmissionOptions, type Verdict } from "./run-submission.ts";
export { reapLeftovers, type ReapOptions } from "./reaper.ts";
export { Sandbox, type SandboxOptions } from "./sandbox.ts";
export {
  assembleWorkspace,
  removeWorkspace,
  type AssembledWorkspace,
  type WorkspaceLayer,
} from "./workspace.ts";
export { listImagePackages, parsePackageList, type ImagePackage } from "./image-packages.ts";
