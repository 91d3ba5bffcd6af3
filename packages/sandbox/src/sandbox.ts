import type Docker from "dockerode";
import { loadImage, removeImage, type LoadedImage } from "./load-image.ts";
import { runSubmission, type RunResult, type RunSubmissionOptions } from "./run-submission.ts";

export interface SandboxOptions {
  /** A trusted local image with `sleep`, e.g. holdout/base:bookworm; holds /out open after the model exits. */
  keeperImage: string;
}

/** The engine-facing operations the worker needs, bound to one Docker connection. */
export class Sandbox {
  constructor(
    private readonly docker: Docker,
    private readonly opts: SandboxOptions,
  ) {}

  /** Validates, loads (untagged) and confirms a `docker save` archive. Throws SandboxRejection for bad uploads. */
  loadImage(path: string): Promise<LoadedImage> {
    return loadImage(this.docker, path);
  }

  removeImage(imageId: string): Promise<void> {
    return removeImage(this.docker, imageId);
  }

  runSubmission(opts: RunSubmissionOptions): Promise<RunResult> {
    return runSubmission(this.docker, this.opts.keeperImage, opts);
  }
}
