import { createHash } from "node:crypto";
import { pack as tarPack } from "tar-stream";

/** Hand-made `docker save` archives for tests: every member and header under the test's control. */

export const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

/**
 * One archive member: a header's fields and a body, or `raw`, its blocks exactly as they go in the
 * archive (for forms tar-stream would not write, such as PAX records without a `path`).
 */
export type Member = NamedMember | { raw: Buffer };

/** A member described by its header's fields. */
export interface NamedMember {
  name: string;
  body?: Buffer | string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device";
  linkname?: string;
  mode?: number;
  devmajor?: number;
  devminor?: number;
  /** PAX records tar-stream writes before this member's header. */
  pax?: Record<string, string>;
  raw?: undefined;
}

const END_OF_ARCHIVE = 1024;

/**
 * A tar of the given members (a layer, or a whole archive), with the end-of-archive blocks. Every
 * time stamp is the epoch, so equal members make equal bytes.
 */
export async function tarOf(members: Member[]): Promise<Buffer> {
  const blocks: Buffer[] = [];
  for (const m of members) {
    if (m.raw) {
      blocks.push(m.raw);
      continue;
    }
    const body =
      m.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body);
    const p = tarPack();
    p.entry(
      {
        name: m.name,
        type: m.type ?? "file",
        mtime: new Date(0),
        ...(m.mode === undefined ? {} : { mode: m.mode }),
        ...(m.linkname ? { linkname: m.linkname } : {}),
        ...(m.devmajor === undefined ? {} : { devmajor: m.devmajor, devminor: m.devminor ?? 0 }),
        ...(m.pax ? { pax: m.pax } : {}),
        size: body.length,
      },
      body,
    );
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of p) chunks.push(chunk as Buffer);
    const one = Buffer.concat(chunks);
    blocks.push(one.subarray(0, one.length - END_OF_ARCHIVE)); // each member alone, without its end
  }
  return Buffer.concat([...blocks, Buffer.alloc(END_OF_ARCHIVE)]);
}

export interface Image {
  config: Buffer;
  configHex: string;
  /** The layer blobs as stored (plain or gzip); their diff IDs are of the uncompressed tars. */
  layers: { blob: Buffer; hex: string }[];
}

/** An image of `layers` (tars), each stored as given (`stored`: e.g. gzipped) or as the tar itself. */
export function image(
  layers: { tar: Buffer; stored?: Buffer }[],
  config: Record<string, unknown> = {},
  tag = "test",
): Image {
  const body = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/hello"], Labels: { "holdout.test": tag } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${sha256(l.tar)}`) },
      ...config,
    }),
  );
  return {
    config: body,
    configHex: sha256(body),
    layers: layers.map((l) => ({ blob: l.stored ?? l.tar, hex: sha256(l.stored ?? l.tar) })),
  };
}

/** The members `docker save` before Docker 25 writes: `<hex>.json`, `<hex>/layer.tar`, manifest.json. */
export function legacyMembers(img: Image, repoTags: string[] = []): NamedMember[] {
  return [
    ...img.layers.flatMap((l) => [
      { name: `${l.hex}/`, type: "directory" as const },
      { name: `${l.hex}/VERSION`, body: "1.0" },
      { name: `${l.hex}/layer.tar`, body: l.blob },
    ]),
    { name: `${img.configHex}.json`, body: img.config },
    {
      name: "manifest.json",
      body: JSON.stringify([
        {
          Config: `${img.configHex}.json`,
          RepoTags: repoTags,
          Layers: img.layers.map((l) => `${l.hex}/layer.tar`),
        },
      ]),
    },
  ];
}

const descriptor = (mediaType: string, bytes: Buffer | string) => ({
  mediaType,
  digest: `sha256:${sha256(bytes)}`,
  size: Buffer.byteLength(bytes),
});

/**
 * The members Docker 25 and later write: an OCI layout (oci-layout, index.json, an OCI manifest
 * blob) beside manifest.json, naming blobs by digest; manifest.json's RepoTags and the index's
 * annotations name `annotation`, which Docker's containerd image store would apply. With
 * `describes`, the OCI manifest describes that other image (its config blob included) rather than
 * the one manifest.json names: two importers would then load two different images from one archive.
 * With `nested`, index.json points to an image index holding the manifest and a provenance
 * attestation, as the containerd store's save of a BuildKit image does. `repoTags` (default: the
 * annotation, as a real save writes it) lets a test keep the tag out of manifest.json.
 */
export function ociMembers(
  img: Image,
  opts: { annotation?: string; describes?: Image; nested?: boolean; repoTags?: string[] } = {},
): Member[] {
  const described = opts.describes ?? img;
  const ociManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: descriptor("application/vnd.oci.image.config.v1+json", described.config),
      layers: described.layers.map((l) => descriptor("application/vnd.oci.image.layer.v1.tar", l.blob)),
    }),
  );
  const statement = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}');
  const attestation = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: descriptor("application/vnd.oci.image.config.v1+json", "{}"),
      layers: [descriptor("application/vnd.in-toto+json", statement)],
    }),
  );
  const inner = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        descriptor("application/vnd.oci.image.manifest.v1+json", ociManifest),
        {
          ...descriptor("application/vnd.oci.image.manifest.v1+json", attestation),
          annotations: { "vnd.docker.reference.type": "attestation-manifest" },
        },
      ],
    }),
  );
  const top = opts.nested
    ? descriptor("application/vnd.oci.image.index.v1+json", inner)
    : descriptor("application/vnd.oci.image.manifest.v1+json", ociManifest);
  const tag = opts.annotation;
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        ...top,
        ...(tag
          ? {
              annotations: {
                "io.containerd.image.name": `docker.io/${tag}`,
                "org.opencontainers.image.ref.name": tag.slice(tag.lastIndexOf(":") + 1),
              },
            }
          : {}),
      },
    ],
  };
  const blob = (bytes: Buffer | string): Member => ({ name: `blobs/sha256/${sha256(bytes)}`, body: bytes });
  return [
    { name: "blobs/", type: "directory" },
    { name: "blobs/sha256/", type: "directory" },
    ...img.layers.map((l) => blob(l.blob)),
    blob(img.config),
    ...(described.configHex !== img.configHex ? [blob(described.config)] : []),
    blob(ociManifest),
    ...(opts.nested ? [blob(inner), blob(attestation), blob(statement), blob("{}")] : []),
    { name: "index.json", body: JSON.stringify(index) },
    { name: "oci-layout", body: '{"imageLayoutVersion":"1.0.0"}' },
    {
      name: "manifest.json",
      body: JSON.stringify([
        {
          Config: `blobs/sha256/${img.configHex}`,
          RepoTags: opts.repoTags ?? (tag ? [tag] : []),
          Layers: img.layers.map((l) => `blobs/sha256/${l.hex}`),
        },
      ]),
    },
  ];
}
