import { SandboxRejection } from "./errors.ts";

/**
 * What the team reads when the engine refuses an image it was sent: a fixed sentence per kind of
 * failure, never the engine's own text (it names engine paths, layer IDs and internals, and is
 * whatever the archive's author could provoke). The engine's text stays in the error's cause for
 * the worker's log. A full disk while unpacking is the image's size, so it is the team's
 * (`image_rejected`, charged), not an infrastructure failure to refund and retry: the archive
 * already passed the size caps, so only an image near them, on a worker short of space, gets here.
 */
const KINDS: [RegExp, string, string][] = [
  [
    /no space left on device|disk quota exceeded/i,
    "disk_full",
    "the image did not fit on the worker's disk as it was unpacked; make it smaller",
  ],
  [
    /diff ?id|does not match|digest/i,
    "layer_digest",
    "a layer does not match the digest its image config gives it (rebuild and save the image again)",
  ],
  [
    /archive\/tar|tar header|unexpected eof|invalid tar|unrecognized|gzip|xz|zstd/i,
    "layer_format",
    "a layer is not a tar archive the engine can read",
  ],
  [
    /operation not permitted|permission denied/i,
    "layer_content",
    "a layer holds a file the engine is not allowed to create",
  ],
];

export function summariseEngineError(engineText: string, options?: ErrorOptions): SandboxRejection {
  const cause = options?.cause ?? new Error(`engine: ${engineText.slice(0, 2000)}`);
  for (const [pattern, code, sentence] of KINDS) {
    if (pattern.test(engineText))
      return new SandboxRejection(`the Docker engine could not load the image: ${sentence}`, { code, cause });
  }
  return new SandboxRejection("the Docker engine could not load the image", {
    code: "engine_refused",
    cause,
  });
}
