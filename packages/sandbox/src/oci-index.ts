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

/** Annotations by which an importer names the image it loads (containerd's, then the OCI spec's). */
const NAME_ANNOTATIONS = ["io.containerd.image.name", "org.opencontainers.image.ref.name"];

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
 * Returns the image names the index's annotations claim (never applied; see reservedNameClaimed).
 */
export function checkOciIndex(
  indexText: string | undefined,
  json: (name: string) => Buffer | undefined,
  configHex: string,
  layerNames: string[],
): string[] {
  const claimed: string[] = [];
  if (indexText === undefined) refuse("is missing beside oci-layout");
  const ours = layerNames.map((name) => /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1]);
  let matching = 0;
  const visit = (index: Record<string, unknown>, depth: number): void => {
    const manifests = index.manifests;
    if (!Array.isArray(manifests) || manifests.length === 0) refuse("names no manifests");
    for (const descriptor of manifests as Descriptor[]) {
      const named = (descriptor.annotations ?? {}) as Record<string, unknown>;
      for (const key of NAME_ANNOTATIONS) {
        if (typeof named[key] === "string") claimed.push(named[key]);
      }
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
  return claimed;
}

/**
 * A reference in the one form the engine resolves it to: `docker.io/library/` added to a bare name,
 * `docker.io/` to a name without a registry, `:latest` to a name without a tag or digest.
 */
export function canonicalImageRef(ref: string): string {
  let name = ref.trim().toLowerCase();
  let suffix = "";
  const at = name.indexOf("@");
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  } else if (suffix === "") suffix = ":latest";
  const parts = name.split("/");
  const first = parts[0] ?? "";
  const hasRegistry =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasRegistry) name = parts.length === 1 ? `docker.io/library/${name}` : `docker.io/${name}`;
  return name + suffix;
}

/**
 * The first name an archive claims (manifest.json's RepoTags, the OCI index's name annotations)
 * that is one of `reserved` (this server's own images, e.g. the keeper). The engine
 * gets none of those names (tags are stripped, the OCI layout is never forwarded), but an upload
 * that tries to pass itself off as one of our images is hostile on its face and refused, saying so.
 */
export function reservedNameClaimed(
  claimed: readonly string[],
  reserved: readonly string[],
): string | undefined {
  const ours = new Set(reserved.map(canonicalImageRef));
  return claimed.find((name) => ours.has(canonicalImageRef(name)));
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
