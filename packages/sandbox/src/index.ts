export { connectDocker, SANDBOX_LABEL, type ConnectDockerOptions } from "./docker.ts";
export { SandboxRejection } from "./errors.ts";
export { inspectImageTarball, type ImageTarballInfo } from "./image-tarball.ts";
export type { LoadedImage } from "./load-image.ts";
export type { RunLimits } from "./container-config.ts";
export type { RunResult, RunSubmissionOptions, Verdict } from "./run-submission.ts";
export { reapLeftovers } from "./reaper.ts";
export { Sandbox, type SandboxOptions } from "./sandbox.ts";
