import { ArchiveRejection } from "@holdout/archive";

const MANIFEST_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
]);
const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);
const DIGEST = /^sha256:([0-9a-f]{64})$/;
/** index.json, then at most one nested index (the containerd store saves a built image's index). */
const MAX_DEPTH = 2;

const refuse = (what: string): never => {
  throw new ArchiveRejection(
    "oci_layout",
    `the archive's OCI layout (index.json) ${what}; send the output of \`docker save\` for one image, unmodified`,
  );
};

type Descriptor = Record<string, unknown>;

/**
 * `docker save` from Docker 25 on writes an OCI layout (oci-layout, index.json, OCI manifest and
 * index blobs) beside manifest.json, describing the same image. We load from manifest.json alone
 * and never pass the OCI parts on, so the engine cannot prefer them (the containerd image store
 * would, and would apply their tag annotations); but an archive whose two descriptions differ is
 * one two importers would load differently, and is refused. Of the image manifests index.json
 * reaches (directly, or through one nested index) and the archive holds, exactly one must be
 * manifest.json's image (same config, same layers in order); any other must be an attestation
 * (BuildKit's provenance, `vnd.docker.reference.type: attestation-manifest`). Manifests the archive
 * does not hold (other platforms of a pulled image) are not the image and are ignored.
 */
export function checkOciIndex(
  indexText: string | undefined,
  json: (name: string) => Buffer | undefined,
  configHex: string,
  layerNames: string[],
): void {
  if (indexText === undefined) refuse("is missing beside oci-layout");
  const ours = layerNames.map((name) => /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1]);
  let matching = 0;
  const visit = (index: Record<string, unknown>, depth: number): void => {
    const manifests = index.manifests;
    if (!Array.isArray(manifests) || manifests.length === 0) refuse("names no manifests");
    for (const descriptor of manifests as Descriptor[]) {
      const hex = typeof descriptor.digest === "string" ? DIGEST.exec(descriptor.digest)?.[1] : undefined;
      if (hex === undefined) return refuse("names a manifest by a malformed digest");
      const blob = json(`blobs/sha256/${hex}`);
      const type = String(descriptor.mediaType);
      if (INDEX_TYPES.has(type)) {
        if (depth >= MAX_DEPTH) refuse("nests indexes deeper than docker save does");
        if (blob === undefined) refuse("names an index the archive does not hold");
        visit(parse(blob?.toString("utf8") ?? "", `blobs/sha256/${hex}`), depth + 1);
        continue;
      }
      if (!MANIFEST_TYPES.has(type)) refuse(`names a ${JSON.stringify(type.slice(0, 80))}`);
      if (blob === undefined) continue;
      const annotations = (descriptor.annotations ?? {}) as Record<string, unknown>;
      if (annotations["vnd.docker.reference.type"] === "attestation-manifest") continue;
      const manifest = parse(blob.toString("utf8"), `blobs/sha256/${hex}`);
      const config = manifest.config as Descriptor | undefined;
      const layers = Array.isArray(manifest.layers) ? (manifest.layers as Descriptor[]) : [];
      const theirs = layers.map((l) =>
        typeof l.digest === "string" ? DIGEST.exec(l.digest)?.[1] : undefined,
      );
      if (config?.digest !== `sha256:${configHex}`)
        refuse("describes another image config than manifest.json");
      if (ours.length !== theirs.length || ours.some((h, i) => h === undefined || h !== theirs[i])) {
        refuse("describes other layers than manifest.json");
      }
      matching += 1;
    }
  };
  visit(parse(indexText ?? "", "index.json"), 1);
  if (matching !== 1) refuse(`describes ${matching} images where manifest.json describes one`);
}

function parse(text: string, name: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse(`holds ${name}, which is not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return refuse(`holds ${name}, which is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
