/**
 * A problem that is the submitter's fault (a malformed tarball, an image the engine refuses). The worker
 * turns it into the `image_rejected` failure category instead of retrying. Anything else this package
 * throws is an infrastructure fault and may be retried.
 */
export class SandboxRejection extends Error {
  override readonly name = "SandboxRejection";

  constructor(
    /** One sentence for the team: what is wrong with what they sent. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(reason, options);
  }
}
