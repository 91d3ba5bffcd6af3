import { ArchiveRejection } from "@holdout/archive";

const MANIFEST_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
]);
const DIGEST = /^sha256:([0-9a-f]{64})$/;

const refuse = (what: string): never => {
  throw new ArchiveRejection(
    "oci_layout",
    `the archive's OCI layout (index.json) ${what}; send the output of \`docker save\` for one image, unmodified`,
  );
};

/**
 * `docker save` from Docker 25 on writes an OCI layout (oci-layout, index.json, an OCI manifest
 * blob) beside manifest.json, describing the same image. We load from manifest.json alone and never
 * pass the OCI parts on, so the engine cannot prefer them (the containerd image store would, and
 * would apply their tag annotations); but an archive whose two descriptions differ is one that two
 * importers would load differently, and is refused: index.json must name exactly one image
 * manifest, present in the archive, whose config and layers are manifest.json's.
 */
export function checkOciIndex(
  indexText: string | undefined,
  json: (name: string) => Buffer | undefined,
  configHex: string,
  layerNames: string[],
): void {
  if (indexText === undefined) refuse("is missing beside oci-layout");
  const index = parse(indexText ?? "", "index.json");
  const manifests = index.manifests;
  if (!Array.isArray(manifests) || manifests.length !== 1) {
    return refuse(`names ${Array.isArray(manifests) ? manifests.length : "no"} manifests, not one`);
  }
  const descriptor = manifests[0] as Record<string, unknown>;
  const hex = typeof descriptor.digest === "string" ? DIGEST.exec(descriptor.digest)?.[1] : undefined;
  if (hex === undefined || !MANIFEST_TYPES.has(String(descriptor.mediaType))) {
    return refuse("names something other than one image manifest");
  }
  const blob = json(`blobs/sha256/${hex}`);
  if (blob === undefined) return refuse("names a manifest the archive does not hold");
  const manifest = parse(blob.toString("utf8"), `blobs/sha256/${hex}`);
  const config = manifest.config as Record<string, unknown> | undefined;
  if (config?.digest !== `sha256:${configHex}`) refuse("describes another image config than manifest.json");
  const layers = Array.isArray(manifest.layers) ? (manifest.layers as Record<string, unknown>[]) : [];
  const ours = layerNames.map((name) => /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1]);
  const theirs = layers.map((l) => (typeof l.digest === "string" ? DIGEST.exec(l.digest)?.[1] : undefined));
  if (ours.length !== theirs.length || ours.some((h, i) => h === undefined || h !== theirs[i])) {
    refuse("describes other layers than manifest.json");
  }
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
