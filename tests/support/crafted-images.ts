import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import {
  legacyMembers,
  ociMembers,
  sha256,
  tarOf,
  type Image,
  type Member,
} from "../../packages/sandbox/test/crafted-archive.ts";
import { BASE_IMAGE, TEST_ARTIFACTS_DIR, uniqueName } from "./env.ts";
import { tinyShellModelTarball, ustarHeader } from "./images.ts";

// Hostile image archives, crafted in the test from a real model image built on our base image (the
// engine cannot pull). Each is a complete `docker save` archive that a team could upload, apart from
// the one hostile form it carries: layer and config digests are right, so an engine that took it
// would load it and the model in it would score. What refuses it must be our loader, for that form.

export { tarOf, type Member };

/** An image config, as the engine reads it (`config.Env`, `rootfs.diff_ids`, `history`, ...). */
export type ImageConfig = Record<string, unknown> & { config: Record<string, unknown> };

/** A layer: its bytes as the archive stores them, and the digest of its uncompressed tar. */
export interface Layer {
  stored: Buffer;
  diffId: string;
}

/** A model image taken apart: its config and its layers, bottom first. */
export interface ImageParts {
  config: ImageConfig;
  layers: Layer[];
}

/** A crafted archive on disk, and every image ID an engine could make of it: none may appear there. */
export interface CraftedArchive {
  file: string;
  imageIds: string[];
}

export const plainLayer = (tarBytes: Buffer): Layer => ({
  stored: tarBytes,
  diffId: `sha256:${sha256(tarBytes)}`,
});

/**
 * A model image on our base image, taken apart for the builders below to reassemble with one
 * hostile change each: tinyShellModelTarball's (about 3 MB, one layer). The tarball is removed.
 */
export async function tinyModelParts(script: string): Promise<ImageParts> {
  const saved = await tinyShellModelTarball(script);
  try {
    const members = await readMembers(saved);
    const member = (name: string): Buffer => {
      const bytes = members.get(name);
      if (!bytes) throw new Error(`${saved}: no member ${name}`);
      return bytes;
    };
    const [entry] = JSON.parse(member("manifest.json").toString("utf8")) as {
      Config: string;
      Layers: string[];
    }[];
    if (!entry) throw new Error(`${saved}: an empty manifest.json`);
    return {
      config: JSON.parse(member(entry.Config).toString("utf8")) as ImageConfig,
      layers: entry.Layers.map((name) => plainLayer(member(name))),
    };
  } finally {
    await rm(saved, { force: true });
  }
}

/** Every regular file of a tar on disk, by name; symlinks (docker save links equal layers) resolved. */
async function readMembers(file: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const extract = tar.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, type, linkname } = entry.header;
    if (type === "file") files.set(name, Buffer.concat(chunks));
    if (type === "symlink" && linkname) links.set(name, path.posix.join(path.posix.dirname(name), linkname));
  }
  for (const [name, target] of links) {
    const bytes = files.get(target);
    if (bytes) files.set(name, bytes);
  }
  return files;
}

const padded = (bytes: Buffer) => Buffer.concat([bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)]);

export const fileMember = (name: string, body: string | Buffer): Member => ({
  name,
  mode: 0o644,
  body: Buffer.from(body),
});

/** `parts` with `layers` stacked on top, each with a history entry as a build would write. */
export function withLayers(parts: ImageParts, layers: Layer[]): ImageParts {
  const history = Array.isArray(parts.config.history) ? (parts.config.history as unknown[]) : [];
  return {
    config: {
      ...parts.config,
      history: [...history, ...layers.map((_, i) => ({ created_by: `crafted layer ${i + 1}` }))],
    },
    layers: [...parts.layers, ...layers],
  };
}

/** `parts` with settings of its config's `config` section (Env, Labels, ...) replaced. */
export function withRunConfig(parts: ImageParts, change: Record<string, unknown>): ImageParts {
  return { ...parts, config: { ...parts.config, config: { ...parts.config.config, ...change } } };
}

/** The image's `Env` with `entries` added. */
export function envWith(parts: ImageParts, entries: string[]): string[] {
  const env = parts.config.config.Env;
  return [...(Array.isArray(env) ? (env as string[]) : []), ...entries];
}

/** The config as an archive carries it: its rootfs naming exactly the layers' diff IDs. */
export function configBytes(parts: ImageParts): Buffer {
  const rootfs = { type: "layers", diff_ids: parts.layers.map((l) => l.diffId) };
  return Buffer.from(JSON.stringify({ ...parts.config, rootfs }));
}

/**
 * The members of a `docker save` archive of `parts`, in the layout engines before 25 write (a
 * `<digest>.json` config, `<digest>/layer.tar` layers; manifest.json last), with no tag.
 */
export function dockerSaveMembers(parts: ImageParts) {
  const image = asImage(parts);
  return {
    members: legacyMembers(image),
    imageId: `sha256:${image.configHex}`,
    configName: `${image.configHex}.json`,
    layerNames: image.layers.map((l) => `${l.hex}/layer.tar`),
  };
}

async function writeArchive(members: Member[], prefix: string): Promise<string> {
  await mkdir(TEST_ARTIFACTS_DIR, { recursive: true });
  const out = path.join(TEST_ARTIFACTS_DIR, `${uniqueName(prefix)}.tar`);
  await writeFile(out, await tarOf(members));
  return out;
}

/** `parts` as a plain `docker save` archive, nothing hostile: what the other builders start from. */
export async function imageArchive(parts: ImageParts, prefix = "model"): Promise<CraftedArchive> {
  const { members, imageId } = dockerSaveMembers(parts);
  return { file: await writeArchive(members, prefix), imageIds: [imageId] };
}

/** `parts` with one more layer holding `members`. */
export async function withLayerOf(parts: ImageParts, members: Member[]): Promise<ImageParts> {
  return withLayers(parts, [plainLayer(await tarOf(members))]);
}

/**
 * A `docker save` archive as engines 25 and later write it (manifest.json beside an OCI image layout:
 * `oci-layout`, `index.json`, an OCI manifest blob), whose index.json annotations name `tag`:
 * Docker's containerd image store prefers the layout and names the image from them, so the load
 * would move `tag` (our base image's, say) to this image. With `describes`, the OCI manifest
 * describes that other image (its config blob included) rather than the one manifest.json names:
 * two importers would then load two different images from one archive.
 */
export async function ociLayoutArchive(
  parts: ImageParts,
  opts: { tag?: string; describes?: ImageParts } = {},
): Promise<CraftedArchive> {
  const image = asImage(parts);
  const described = opts.describes ? asImage(opts.describes) : image;
  // manifest.json names no tag: what a check refuses is then the layout's own annotation.
  const members = ociMembers(image, {
    annotation: opts.tag ?? BASE_IMAGE,
    describes: described,
    repoTags: [],
  });
  const imageIds = [`sha256:${image.configHex}`, `sha256:${described.configHex}`];
  return { file: await writeArchive(members, "oci-layout"), imageIds: [...new Set(imageIds)] };
}

/** `parts` as the in-memory image the archive builders of packages/sandbox's tests take. */
function asImage(parts: ImageParts): Image {
  const config = configBytes(parts);
  return {
    config,
    configHex: sha256(config),
    layers: parts.layers.map((l) => ({ blob: l.stored, hex: sha256(l.stored) })),
  };
}

/**
 * `parts` with one more layer stored gzip-compressed inside the plain outer tar (the engine takes
 * compressed layers): a file of `expandsTo` zeros (a multiple of 512) that costs about a thousandth
 * of that in the archive, so limits that meter only the outer stream never see what it unpacks to.
 */
export async function compressedLayerBomb(parts: ImageParts, expandsTo: number): Promise<CraftedArchive> {
  if (expandsTo % 512 !== 0) throw new Error("expandsTo must be a multiple of 512 (no tar padding)");
  const gzip = createGzip({ level: 9 });
  const compressed: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => compressed.push(chunk));
  const ended = new Promise<void>((resolve, reject) => gzip.once("end", resolve).once("error", reject));
  const diffId = createHash("sha256");
  const feed = async (bytes: Buffer) => {
    diffId.update(bytes);
    if (!gzip.write(bytes)) await new Promise((resolve) => gzip.once("drain", resolve));
  };
  await feed(ustarHeader("opt/zeros", expandsTo));
  const zeros = Buffer.alloc(1 << 20);
  for (let left = expandsTo; left > 0; left -= zeros.length) {
    await feed(zeros.subarray(0, Math.min(left, zeros.length)));
  }
  await feed(Buffer.alloc(1024)); // end of archive
  gzip.end();
  await ended;
  const layer = { stored: Buffer.concat(compressed), diffId: `sha256:${diffId.digest("hex")}` };
  return imageArchive(withLayers(parts, [layer]), "layer-bomb");
}

/**
 * A member that tar-stream (and any reader ignoring GNU sparse PAX records) reads as `shownAs`,
 * but Go's archive/tar, which the engine uses, reads as `realName`: a PAX header holding only the
 * GNU sparse 1.0 records (`GNU.sparse.name` among them, no `path`), then a regular file whose body
 * is the sparse map (one fragment covering everything) and the real body.
 */
export function sparseRenamed(shownAs: string, realName: string, body: Buffer): Member {
  const records = paxRecords({
    "GNU.sparse.major": "1",
    "GNU.sparse.minor": "0",
    "GNU.sparse.name": realName,
    "GNU.sparse.realsize": String(body.length),
  });
  const map = padded(Buffer.from(`1\n0\n${body.length}\n`, "ascii"));
  const data = Buffer.concat([map, body]);
  return {
    raw: Buffer.concat([
      ustarHeader(`PaxHeaders/${shownAs}`, records.length, "x"),
      padded(records),
      ustarHeader(shownAs, data.length),
      padded(data),
    ]),
  };
}

/** PAX extended header records: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecords(records: Record<string, string>): Buffer {
  const lines = Object.entries(records).map(([key, value]) => {
    const rest = ` ${key}=${value}\n`;
    let length = rest.length + 1;
    while (`${length}${rest}`.length !== length) length = `${length}${rest}`.length;
    return `${length}${rest}`;
  });
  return Buffer.from(lines.join(""), "utf8");
}

/**
 * A `docker save` archive of `parts` with a PAX-renamed member (sparseRenamed) landing on
 * `manifest.json` (a hidden manifest naming the same image, tagged as our base image: the engine
 * would apply its RepoTags) or on the config's name (a hidden config whose Env sets LD_PRELOAD: what
 * the engine reads is then not the config that was checked).
 */
export async function paxSparseRename(
  parts: ImageParts,
  onto: "manifest.json" | "config",
): Promise<CraftedArchive> {
  const saved = dockerSaveMembers(parts);
  if (onto === "manifest.json") {
    const hidden = [{ Config: saved.configName, RepoTags: [BASE_IMAGE], Layers: saved.layerNames }];
    const renamed = sparseRenamed("harmless.txt", "manifest.json", Buffer.from(JSON.stringify(hidden)));
    const file = await writeArchive([renamed, ...saved.members], "pax-rename-manifest");
    return { file, imageIds: [saved.imageId] };
  }
  const hiddenParts = withRunConfig(parts, { Env: envWith(parts, ["LD_PRELOAD=/tmp/hook.so"]) });
  const hidden = configBytes(hiddenParts);
  const renamed = sparseRenamed("harmless.txt", saved.configName, hidden);
  // After the checked config: the reader that applies the rename takes the later of the two.
  const at = saved.members.findIndex((m) => m.name === saved.configName) + 1;
  const members = [...saved.members.slice(0, at), renamed, ...saved.members.slice(at)];
  const file = await writeArchive(members, "pax-rename-config");
  return { file, imageIds: [saved.imageId, `sha256:${sha256(hidden)}`] };
}

/**
 * A layer that creates a symlink to `/etc`, then writes `ld.so.preload` through it: a reader that
 * judges members by their names sees `opt/through/ld.so.preload`; the engine follows the link and
 * writes `/etc/ld.so.preload`, which steers the dynamic loader of every program in the image. (The
 * layer holds `etc/` itself: the engine applies a layer on its own, without the layers below.)
 */
export async function symlinkThenWrite(parts: ImageParts): Promise<CraftedArchive> {
  const dir: Member = { name: "etc/", type: "directory", mode: 0o755 };
  const link: Member = { name: "opt/through", type: "symlink", linkname: "/etc" };
  const through = fileMember("opt/through/ld.so.preload", "/tmp/hook.so\n");
  return imageArchive(await withLayerOf(parts, [dir, link, through]), "symlink-write");
}

/** An image config of about `bytes` (a label holding padding): far beyond any real one. */
export async function hugeConfig(parts: ImageParts, bytes: number): Promise<CraftedArchive> {
  return imageArchive(withRunConfig(parts, { Labels: { padding: "x".repeat(bytes) } }), "huge-config");
}

/** The image grown to `count` layers, each adding one small file of its own. */
export async function manyLayers(parts: ImageParts, count: number): Promise<CraftedArchive> {
  const layers: Layer[] = [];
  for (let i = parts.layers.length; i < count; i++) {
    layers.push(plainLayer(await tarOf([fileMember(`opt/layers/${i}`, `layer ${i}\n`)])));
  }
  return imageArchive(withLayers(parts, layers), "many-layers");
}

/** The image with `entries` added to its config's Env (e.g. `LD_PRELOAD=...`). */
export async function withEnv(parts: ImageParts, entries: string[]): Promise<CraftedArchive> {
  return imageArchive(withRunConfig(parts, { Env: envWith(parts, entries) }), "env");
}

/** A layer holding a character device node (1:3, the same as /dev/null). */
export async function deviceNode(parts: ImageParts): Promise<CraftedArchive> {
  const node: Member = {
    name: "opt/holdout-device",
    type: "character-device",
    mode: 0o666,
    devmajor: 1,
    devminor: 3,
  };
  return imageArchive(await withLayerOf(parts, [node]), "device-node");
}

/**
 * A layer with a member outside its root: an absolute path, a path that climbs out with `..`, or a
 * hard link whose target climbs out (to a file of the same layer, so that an engine that cleans the
 * path would still load it).
 */
export async function escapingLayer(
  parts: ImageParts,
  form: "absolute" | "dotdot" | "hardlink",
): Promise<CraftedArchive> {
  const members: Member[] =
    form === "absolute"
      ? [fileMember("/etc/holdout-absolute", "x\n")]
      : form === "dotdot"
        ? [fileMember("opt/../../holdout-escape", "x\n")]
        : [fileMember("opt/target", "x\n"), { name: "opt/link", type: "link", linkname: "../../opt/target" }];
  return imageArchive(await withLayerOf(parts, members), `escaping-${form}`);
}
