import { createHash } from "node:crypto";
import { posix } from "node:path";
import {
  ArchiveRejection,
  ExpansionMeter,
  normalizeEntryName,
  type EntryBody,
  type EntryHead,
} from "@holdout/archive";
import { SandboxRejection } from "./errors.ts";
import { parseImageConfig, whyUnrunnable, type ImageConfigSummary } from "./image-config.ts";
import { streamLayer, type MemberSink } from "./image-layer.ts";
import { skippable, type KnownLayerPlan } from "./known-layers.ts";
import { checkOciIndex, reservedNameClaimed } from "./oci-index.ts";
import type { TarballLimits } from "./image-tarball.ts";

export interface ManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** A member of the archive the engine gets, every field ours: nothing of the upload's header survives. */
export interface RebuiltHeader {
  name: string;
  type: "file" | "directory" | "symlink";
  size: number;
  linkname?: string;
}

/** Where the rebuilt archive goes (the engine, for a load); absent for an inspection. */
export type Outlet = (header: RebuiltHeader) => MemberSink;

/** What the whole-archive checks established. */
export interface CheckedImage {
  /** `sha256:<hex>`: the engine's image ID. */
  imageId: string;
  manifest: ManifestEntry;
  config: ImageConfigSummary;
  /** The config member, to be written (by the loader) after the checks, before manifest.json. */
  configName: string;
  configBytes: Buffer;
  /** Layer members left out of what the engine got, because it holds them (known-layers.ts). */
  layersNotSent: number;
}

/** A `docker save` manifest is a few KiB; anything far larger is not one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** JSON members (the config, OCI manifests) kept in memory until the manifest says which is which. */
const MAX_KEPT_JSON_BYTES = 16 * 1024 * 1024;
const HEX = "[0-9a-f]{64}";
const LEGACY_CONFIG = new RegExp(`^(${HEX})\\.json$`);
const LEGACY_LAYER = new RegExp(`^${HEX}/layer\\.tar$`);
const LEGACY_DROPPED = new RegExp(`^${HEX}/(json|VERSION)$`);
const BLOB = new RegExp(`^blobs/sha256/(${HEX})$`);
const DIRECTORY = new RegExp(`^(${HEX}|blobs|blobs/sha256)$`);
/** Files of a code bundle that a `docker save` archive never holds. */
const SOURCE_FILE = /\.(py|ipynb|r|jl|sh|js|ts)$|(^|\/)requirements\.txt$/i;

/** The hex digest a config member is named by, or undefined for a name no `docker save` produces. */
export function configDigest(name: string): string | undefined {
  return (LEGACY_CONFIG.exec(name) ?? BLOB.exec(name))?.[1];
}

/**
 * The checks on a `docker save` archive, fed one member at a time as it streams by (in any order:
 * docker save writes manifest.json last), and the rebuilding of what the engine gets. Only what
 * `docker save` writes is accepted; of it, only layers go on as they stream (their bytes verbatim
 * under a rebuilt header, their contents checked on the way: image-layer.ts); the config is held
 * (it is small, capped) and written by the loader after the checks, with a manifest of our own
 * (no tags) last. oci-layout, index.json, `repositories`, legacy `<id>/json` files and OCI
 * manifest blobs are read and dropped: the engine never sees them, so it cannot prefer them.
 */
export class ImageArchiveCheck {
  readonly #limits: TarballLimits;
  readonly #out: Outlet | undefined;
  readonly #layerMeter: ExpansionMeter;
  readonly #names = new Set<string>();
  readonly #layers = new Set<string>();
  readonly #layerLinks = new Map<string, string>();
  readonly #json = new Map<string, { bytes: Buffer; digest: string }>();
  readonly #dirsSent = new Set<string>();
  readonly #plan: KnownLayerPlan | undefined;
  readonly #skipped = new Set<string>();
  #keptJson = 0;
  #manifestText: string | undefined;
  #indexText: string | undefined;
  #stray: string | undefined;

  constructor(limits: TarballLimits, out?: Outlet, plan?: KnownLayerPlan) {
    this.#limits = limits;
    this.#out = out;
    this.#plan = plan;
    this.#layerMeter = new ExpansionMeter(
      limits.maxUncompressedBytes,
      limits.maxCompressionRatio,
      "the image's layers",
    );
  }

  async member(entry: EntryHead, body: EntryBody): Promise<void> {
    const name = normalizeEntryName(entry.name, "the archive");
    if (this.#names.has(name)) {
      throw new ArchiveRejection("duplicate_entry", `the archive holds ${JSON.stringify(name)} twice`);
    }
    this.#names.add(name);
    if (entry.type === "directory") return; // ours are written as needed
    if (entry.type === "symlink") return await this.#link(name, entry.linkname);
    if (entry.type !== "file") {
      throw new ArchiveRejection(
        "entry_type",
        `the archive member ${JSON.stringify(name)} is a ${entry.type}; docker save writes files, directories and symlinks`,
      );
    }
    // One iterator per body: a second one on the same stream would race the first for chunks.
    const chunks: Chunks = body[Symbol.asyncIterator]();
    if (name === "manifest.json") {
      this.#manifestText = (await readCapped(chunks, MAX_MANIFEST_BYTES, "manifest.json")).toString("utf8");
    } else if (name === "index.json") {
      this.#indexText = (await readCapped(chunks, MAX_MANIFEST_BYTES, "index.json")).toString("utf8");
    } else if (LEGACY_LAYER.test(name)) {
      if (this.#plan?.skip.has(name)) await this.#skipLayer(name, chunks);
      else await this.#layer(name, entry.size, chunks, await nextChunk(chunks));
    } else if (LEGACY_CONFIG.test(name)) {
      await this.#keepJson(name, entry.size, chunks);
    } else if (BLOB.test(name)) {
      // A blob is a layer or a JSON document (the config, an OCI manifest): its first byte tells.
      const first = await nextChunk(chunks);
      if (first?.[0] === 0x7b) await this.#keepJson(name, entry.size, chunks, first);
      else if (this.#plan?.skip.has(name)) await this.#skipLayer(name, chunks);
      else await this.#layer(name, entry.size, chunks, first);
    } else {
      if (name !== "repositories" && name !== "oci-layout" && !LEGACY_DROPPED.test(name))
        this.#stray ??= name;
      while ((await nextChunk(chunks)) !== undefined);
    }
  }

  async #layer(name: string, size: number, chunks: Chunks, first: Buffer | undefined): Promise<void> {
    this.#countLayer(name);
    const sink = this.#out ? await this.#open({ name, type: "file", size }) : undefined;
    await streamLayer(name, chunks, first ?? Buffer.alloc(0), this.#layerMeter, sink);
  }

  /**
   * A layer the engine holds under the chain ID the manifest gives it: nothing of it is sent (its
   * bytes here are never read by the engine, so they are not checked either), only counted.
   */
  async #skipLayer(name: string, chunks: Chunks): Promise<void> {
    this.#countLayer(name);
    this.#skipped.add(name);
    while ((await nextChunk(chunks)) !== undefined);
  }

  #countLayer(name: string): void {
    this.#layers.add(name);
    if (this.#layers.size > this.#limits.maxLayers) {
      throw new ArchiveRejection(
        "too_many_layers",
        `the image has more than ${this.#limits.maxLayers} layers, the limit`,
      );
    }
  }

  /** docker save links a layer shared by two images' histories: `<id>/layer.tar -> ../<id2>/layer.tar`. */
  async #link(name: string, target: string): Promise<void> {
    const resolved = posix.normalize(posix.join(posix.dirname(name), target));
    const isLayer = (n: string): boolean => LEGACY_LAYER.test(n) || BLOB.test(n);
    if (!isLayer(name) || target.startsWith("/") || !isLayer(resolved)) {
      throw new ArchiveRejection(
        "link_escape",
        `the archive member ${JSON.stringify(name)} links outside the archive's layers (to ${JSON.stringify(target)}); docker save links only one layer to another`,
      );
    }
    this.#layerLinks.set(name, resolved);
    // Sent at once: a symlink carries no bytes, and the engine resolves it only once loading.
    if (this.#out) {
      const linkname = posix.relative(posix.dirname(name), resolved);
      await (await this.#open({ name, type: "symlink", size: 0, linkname })).end();
    }
  }

  async #keepJson(name: string, size: number, chunks: Chunks, first?: Buffer): Promise<void> {
    if (size > this.#limits.maxConfigBytes) {
      throw new ArchiveRejection(
        "too_large",
        `the archive member ${JSON.stringify(name)} is ${size} bytes; an image config may be at most ${this.#limits.maxConfigBytes}`,
      );
    }
    if (this.#keptJson + size > MAX_KEPT_JSON_BYTES) {
      throw new ArchiveRejection(
        "too_large",
        `the archive's JSON members add up to more than ${MAX_KEPT_JSON_BYTES} bytes`,
      );
    }
    this.#keptJson += size;
    const bytes = await readCapped(chunks, this.#limits.maxConfigBytes, JSON.stringify(name), first);
    this.#json.set(name, { bytes, digest: createHash("sha256").update(bytes).digest("hex") });
  }

  /** A rebuilt member, after the directories it sits in. */
  async #open(header: RebuiltHeader): Promise<MemberSink> {
    const out = this.#out;
    if (!out) throw new Error("nothing to send to");
    const dir = posix.dirname(header.name);
    for (const d of dir === "." ? [] : ancestry(dir)) {
      if (this.#dirsSent.has(d)) continue;
      this.#dirsSent.add(d);
      await out({ name: d, type: "directory", size: 0 }).end();
    }
    return out(header);
  }

  /** The checks that need the whole archive; throws a rejection saying what is wrong. */
  finish(architecture: string | undefined, reservedNames: readonly string[] = []): CheckedImage {
    if (this.#manifestText === undefined) {
      // A code bundle sent as an image is the usual cause; say so, naming a file that shows it.
      const source = [...this.#names].find((name) => SOURCE_FILE.test(name));
      throw new SandboxRejection(
        source === undefined
          ? "not a docker image archive: manifest.json is missing (use `docker save`)"
          : `not a docker image archive: manifest.json is missing, and it holds source code (${JSON.stringify(source.slice(0, 100))}); a code bundle is sent in the \`bundle\` field, an image (\`docker save\` output) in \`image\``,
        { code: "not_image" },
      );
    }
    if (this.#stray !== undefined) {
      throw new ArchiveRejection(
        "unexpected_member",
        `the archive holds ${JSON.stringify(this.#stray.slice(0, 100))}, which docker save never writes`,
      );
    }
    const manifest = parseManifest(this.#manifestText);
    if (manifest.Layers.length > this.#limits.maxLayers) {
      throw new ArchiveRejection(
        "too_many_layers",
        `the image has ${manifest.Layers.length} layers; the limit is ${this.#limits.maxLayers}`,
      );
    }
    const configName = normalizeEntryName(manifest.Config, "manifest.json");
    const digest = configDigest(configName);
    if (digest === undefined)
      throw new SandboxRejection(`unexpected image config path "${manifest.Config}"`, {
        code: "bad_manifest",
      });
    const config = this.#json.get(configName);
    if (config === undefined) {
      throw new SandboxRejection(
        this.#names.has(configName)
          ? `image config "${manifest.Config}" is not a JSON file`
          : `image config "${manifest.Config}" named in manifest.json is missing from the archive`,
        { code: "bad_manifest" },
      );
    }
    if (config.digest !== digest) {
      throw new SandboxRejection(`image config "${manifest.Config}" does not match its digest`, {
        code: "bad_manifest",
      });
    }
    this.#confirmPlan(digest);
    const named = new Set<string>();
    for (const layer of manifest.Layers) {
      const layerName = normalizeEntryName(layer, "manifest.json");
      const target = this.#layerLinks.get(layerName) ?? layerName;
      if (!this.#layers.has(target)) {
        throw new SandboxRejection(`layer "${layer}" named in manifest.json is missing from the archive`, {
          code: "bad_manifest",
        });
      }
      named.add(layerName).add(target);
    }
    // Whatever reached the engine must be what the manifest names: it gets no other way in.
    const unnamed = [...this.#layers, ...this.#layerLinks.keys()].find((l) => !named.has(l));
    if (unnamed !== undefined) {
      throw new ArchiveRejection(
        "unexpected_member",
        `the archive holds the layer ${JSON.stringify(unnamed)}, which manifest.json does not name`,
      );
    }
    const claimed = [...(manifest.RepoTags ?? [])];
    if (this.#indexText !== undefined || this.#names.has("oci-layout")) {
      const annotated = checkOciIndex(
        this.#indexText,
        (name) => this.#json.get(name)?.bytes,
        digest,
        manifest.Layers.map((l) => normalizeEntryName(l)),
      );
      claimed.push(...annotated);
    }
    const impostor = reservedNameClaimed(claimed, reservedNames);
    if (impostor !== undefined) {
      throw new SandboxRejection(
        `the archive names its image ${JSON.stringify(impostor.slice(0, 200))}, which is one of this server's own images; save your model under a name of your own`,
        { code: "reserved_name" },
      );
    }
    const summary = parseImageConfig(config.bytes);
    const unrunnable = whyUnrunnable(summary, architecture);
    if (unrunnable !== undefined) throw new SandboxRejection(unrunnable.sentence, { code: unrunnable.code });
    // The names as sent (normalised): the manifest the engine gets names exactly those.
    const sent = {
      Config: configName,
      RepoTags: manifest.RepoTags,
      Layers: manifest.Layers.map((l) => normalizeEntryName(l)),
    };
    return {
      imageId: `sha256:${digest}`,
      manifest: sent,
      config: summary,
      configName,
      configBytes: config.bytes,
      layersNotSent: this.#skipped.size,
    };
  }

  /**
   * The layers left out must be left out on this pass's reading too: the same config and manifest,
   * and every manifest position a skipped member serves (through this pass's links) known to the
   * engine. Otherwise the engine would miss a layer it needs; the archive is refused.
   */
  #confirmPlan(digest: string): void {
    const plan = this.#plan;
    if (plan === undefined || this.#skipped.size === 0) return;
    const layerNames = parseManifest(this.#manifestText ?? "").Layers.map((l) => normalizeEntryName(l));
    const skippableHere = skippable(layerNames, plan.known, this.#layerLinks);
    const agreed =
      digest === plan.configDigest &&
      this.#manifestText === plan.manifestText &&
      [...this.#skipped].every((name) => skippableHere.has(name));
    if (!agreed) {
      throw new ArchiveRejection(
        "ambiguous_header",
        "the archive reads differently from its headers alone than read whole (manifest, config or layer links)",
      );
    }
  }
}

export function parseManifest(text: string): ManifestEntry {
  const bad = (sentence: string): SandboxRejection =>
    new SandboxRejection(sentence, { code: "bad_manifest" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad("manifest.json is not valid JSON");
  }
  if (!Array.isArray(parsed)) throw bad("manifest.json is not a list of images");
  if (parsed.length !== 1) throw bad(`the archive must hold exactly one image; it holds ${parsed.length}`);
  const entry: unknown = parsed[0];
  if (typeof entry !== "object" || entry === null) throw bad("manifest.json entry is malformed");
  const { Config, RepoTags, Layers } = entry as Record<string, unknown>;
  if (typeof Config !== "string" || Config === "") throw bad("manifest.json names no image config");
  if (!Array.isArray(Layers) || !Layers.every((l) => typeof l === "string")) {
    throw bad("manifest.json has a malformed Layers list");
  }
  if (
    RepoTags !== null &&
    RepoTags !== undefined &&
    !(Array.isArray(RepoTags) && RepoTags.every((t) => typeof t === "string"))
  ) {
    throw bad("manifest.json has a malformed RepoTags list");
  }
  for (const member of [Config, ...Layers]) normalizeEntryName(member, "manifest.json");
  return { Config, RepoTags: RepoTags ?? null, Layers: Layers };
}

/** The directories a member sits in, outermost first: only those docker save writes. */
function ancestry(dir: string): string[] {
  const parts = dir.split("/");
  return parts.map((_, i) => parts.slice(0, i + 1).join("/")).filter((d) => DIRECTORY.test(d));
}

/** A member's body, read through one iterator. */
export type Chunks = AsyncIterator<unknown>;

export async function nextChunk(chunks: Chunks): Promise<Buffer | undefined> {
  const next = await chunks.next();
  if (next.done) return undefined;
  if (!Buffer.isBuffer(next.value)) throw new TypeError("expected a Buffer chunk");
  return next.value;
}

/** Reads a whole (small) member, refusing one larger than `max`. */
async function readCapped(chunks: Chunks, max: number, what: string, first?: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for (let chunk = first ?? (await nextChunk(chunks)); chunk !== undefined; chunk = await nextChunk(chunks)) {
    total += chunk.length;
    if (total > max) throw new ArchiveRejection("too_large", `${what} is larger than ${max} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
