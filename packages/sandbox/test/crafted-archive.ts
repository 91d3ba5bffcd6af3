import { createHash } from "node:crypto";
import { pack as tarPack } from "tar-stream";

/** Hand-made `docker save` archives for tests: every member and header under the test's control. */

export const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

export interface Member {
  name: string;
  body?: Buffer | string;
  type?: "file" | "directory" | "symlink";
  linkname?: string;
  /** PAX records tar-stream writes before this member's header. */
  pax?: Record<string, string>;
}

export async function tarOf(members: Member[]): Promise<Buffer> {
  const p = tarPack();
  for (const m of members) {
    const body =
      m.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body);
    p.entry(
      {
        name: m.name,
        type: m.type ?? "file",
        ...(m.linkname ? { linkname: m.linkname } : {}),
        ...(m.pax ? { pax: m.pax } : {}),
        size: body.length,
      },
      body,
    );
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
export function legacyMembers(img: Image, repoTags: string[] = []): Member[] {
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

/**
 * The members Docker 25 and later write: an OCI layout (oci-layout, index.json, an OCI manifest
 * blob) beside manifest.json, naming blobs by digest. `indexConfigHex` lets a test make the two
 * descriptions disagree.
 */
export function ociMembers(
  img: Image,
  opts: { annotation?: string; indexConfigHex?: string; nested?: boolean } = {},
): Member[] {
  const ociManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: `sha256:${opts.indexConfigHex ?? img.configHex}`,
        size: img.config.length,
      },
      layers: img.layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: `sha256:${l.hex}`,
        size: l.blob.length,
      })),
    }),
  );
  // The containerd store's save of a BuildKit image: index.json -> an image index -> the image's
  // manifest and a provenance attestation (a manifest whose layer is an in-toto JSON document).
  const statement = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}');
  const attestation = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: `sha256:${sha256("{}")}`,
        size: 2,
      },
      layers: [
        {
          mediaType: "application/vnd.in-toto+json",
          digest: `sha256:${sha256(statement)}`,
          size: statement.length,
        },
      ],
    }),
  );
  const inner = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${sha256(ociManifest)}`,
          size: ociManifest.length,
        },
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${sha256(attestation)}`,
          size: attestation.length,
          annotations: { "vnd.docker.reference.type": "attestation-manifest" },
        },
      ],
    }),
  );
  const top = opts.nested
    ? {
        mediaType: "application/vnd.oci.image.index.v1+json",
        digest: `sha256:${sha256(inner)}`,
        size: inner.length,
      }
    : {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: `sha256:${sha256(ociManifest)}`,
        size: ociManifest.length,
      };
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        ...top,
        ...(opts.annotation
          ? {
              annotations: {
                "io.containerd.image.name": `docker.io/${opts.annotation}`,
                "org.opencontainers.image.ref.name": opts.annotation.split(":")[1] ?? "latest",
              },
            }
          : {}),
      },
    ],
  };
  return [
    { name: "blobs/", type: "directory" },
    { name: "blobs/sha256/", type: "directory" },
    ...img.layers.map((l) => ({ name: `blobs/sha256/${l.hex}`, body: l.blob })),
    { name: `blobs/sha256/${img.configHex}`, body: img.config },
    { name: `blobs/sha256/${sha256(ociManifest)}`, body: ociManifest },
    ...(opts.nested
      ? [
          { name: `blobs/sha256/${sha256(inner)}`, body: inner },
          { name: `blobs/sha256/${sha256(attestation)}`, body: attestation },
          { name: `blobs/sha256/${sha256(statement)}`, body: statement },
          { name: `blobs/sha256/${sha256("{}")}`, body: "{}" },
        ]
      : []),
    { name: "index.json", body: JSON.stringify(index) },
    {
      name: "manifest.json",
      body: JSON.stringify([
        {
          Config: `blobs/sha256/${img.configHex}`,
          RepoTags: opts.annotation ? [opts.annotation] : [],
          Layers: img.layers.map((l) => `blobs/sha256/${l.hex}`),
        },
      ]),
    },
    { name: "oci-layout", body: '{"imageLayoutVersion":"1.0.0"}' },
  ];
}
