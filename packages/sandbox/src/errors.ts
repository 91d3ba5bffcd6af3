import { ArchiveRejection } from "@holdout/archive";

/**
 * A problem that is the submitter's fault (a malformed tarball, an image the engine refuses). The worker
 * turns it into the `image_rejected` failure category instead of retrying. Anything else this package
 * throws is an infrastructure fault and may be retried.
 */
export class SandboxRejection extends Error {
  override readonly name = "SandboxRejection";
  /** A short machine-readable reason (`oci_layout`, `gnu_sparse`, `disk_full`, ...), when one applies. */
  readonly code: string | undefined;
  /** One sentence for the team: what is wrong with what they sent, ending in `[code]` when there is one. */
  readonly reason: string;

  constructor(sentence: string, options?: ErrorOptions & { code?: string }) {
    const reason = options?.code === undefined ? sentence : `${sentence} [${options.code}]`;
    super(reason, options);
    this.code = options?.code;
    this.reason = reason;
  }
}

/** An archive refusal from @holdout/archive as this package reports it; anything else unchanged. */
export function asRejection(err: unknown): unknown {
  if (err instanceof ArchiveRejection)
    return new SandboxRejection(err.sentence, { code: err.code, cause: err });
  return err;
}
