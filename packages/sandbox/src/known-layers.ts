import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { BLOCK, checksum, isZero, normalizeEntryName, octal } from "@holdout/archive";
import type Docker from "dockerode";
import { isNotFound } from "./docker.ts";
import { configDigest, MAX_MANIFEST_BYTES, parseManifest } from "./image-archive.ts";

// Layers the engine already holds are not sent again. An image built on one of our own images (the
// keeper's base, the bundles' runtime) carries that image's layers in its `docker save` archive; the
// classic image store loads each layer by its chain ID and reads the archive's copy only when it
// has no layer under that ID. Leaving those copies out saves sending them, and the engine writing
// them to its scratch directory and reading them back.

/** What the load of one archive may leave out, established before its one checked pass. */
export interface KnownLayerPlan {
  /** The config's digest and manifest.json's text as found here: the checked pass must read the same. */
  configDigest: string;
  manifestText: string;
  /** Per position of the manifest's Layers: whether the engine holds the layer (by chain ID). */
  known: readonly boolean[];
  /** Layer members (normalised names) not sent: every manifest position they serve is known. */
  skip: ReadonlySet<string>;
}

/**
 * The chain IDs of every layer of the given images (by ID), as the classic store names its layers:
 * the first layer's is its diff ID, each next one `sha256(parent chain ID + " " + diff ID)`. An
 * image that is gone contributes nothing.
 */
export async function layerChainsOf(docker: Docker, imageIds: readonly string[]): Promise<Set<string>> {
  const chains = new Set<string>();
  for (const id of imageIds) {
    let diffIds: string[];
    try {
      diffIds = (await docker.getImage(id).inspect()).RootFS?.Layers ?? [];
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    for (const chain of chainIds(diffIds)) chains.add(chain);
  }
  return chains;
}

export function chainIds(diffIds: readonly string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const parent = chains.at(-1);
    chains.push(
      parent === undefined
        ? diffId
        : `sha256:${createHash("sha256").update(`${parent} ${diffId}`).digest("hex")}`,
    );
  }
  return chains;
}

interface IndexedMember {
  type: "file" | "directory" | "symlink";
  /** Where the body starts in the file. */
  offset: number;
  size: number;
  linkname: string;
}

/**
 * Reads a plain tar's headers only (each body skipped by seeking), finds manifest.json and the config
 * it names, and works out which layer members the engine would not read. Any form this reader does
 * not take plainly (PAX or GNU records, other entry types, a bad checksum, more than `maxEntries`
 * members, an oversized or malformed manifest or config) gives no plan: the archive is then sent
 * whole, and the checked pass refuses what it refuses. The plan is a hint the checked pass verifies,
 * never a verdict: ImageArchiveCheck.finish refuses an archive that reads differently there.
 */
export async function planKnownLayers(
  path: string,
  limits: { maxEntries: number; maxConfigBytes: number },
  knownChains: ReadonlySet<string>,
): Promise<KnownLayerPlan | undefined> {
  if (knownChains.size === 0) return undefined;
  const file = await open(path, "r");
  try {
    const members = await indexHeaders(file, limits.maxEntries);
    if (!members) return undefined;
    const manifestEntry = members.get("manifest.json");
    if (manifestEntry?.type !== "file" || manifestEntry.size > MAX_MANIFEST_BYTES) return undefined;
    const manifestText = (await readBody(file, manifestEntry)).toString("utf8");
    let layerNames: string[];
    let configName: string;
    try {
      const manifest = parseManifest(manifestText);
      layerNames = manifest.Layers.map((l) => normalizeEntryName(l, "manifest.json"));
      configName = normalizeEntryName(manifest.Config, "manifest.json");
    } catch {
      return undefined; // the checked pass says what is wrong
    }
    const digest = configDigest(configName);
    const configEntry = members.get(configName);
    if (digest === undefined || configEntry?.type !== "file" || configEntry.size > limits.maxConfigBytes) {
      return undefined;
    }
    const configBytes = await readBody(file, configEntry);
    if (createHash("sha256").update(configBytes).digest("hex") !== digest) return undefined;
    const diffIds = diffIdsOf(configBytes);
    if (diffIds?.length !== layerNames.length) return undefined;
    const known = chainIds(diffIds).map((chain) => knownChains.has(chain));
    const links = new Map<string, string>();
    for (const [name, member] of members) {
      if (member.type === "symlink")
        links.set(name, posix.normalize(posix.join(posix.dirname(name), member.linkname)));
    }
    const skip = skippable(layerNames, known, links);
    for (const name of skip) if (members.get(name)?.type !== "file") skip.delete(name);
    return skip.size === 0 ? undefined : { configDigest: digest, manifestText, known, skip };
  } finally {
    await file.close();
  }
}

/**
 * The layer files every manifest position of which is known, positions read through one link
 * (`docker save` links a layer shared by two images' histories to the other's copy).
 */
export function skippable(
  layerNames: readonly string[],
  known: readonly boolean[],
  links: ReadonlyMap<string, string>,
): Set<string> {
  const needed = new Set<string>();
  const candidates = new Set<string>();
  layerNames.forEach((name, i) => {
    const target = links.get(name) ?? name;
    (known[i] ? candidates : needed).add(target);
  });
  return new Set([...candidates].filter((name) => !needed.has(name)));
}

function diffIdsOf(config: Buffer): string[] | undefined {
  try {
    const parsed = JSON.parse(config.toString("utf8")) as { rootfs?: { diff_ids?: unknown } };
    const ids = parsed.rootfs?.diff_ids;
    if (
      !Array.isArray(ids) ||
      !ids.every((id) => typeof id === "string" && /^sha256:[0-9a-f]{64}$/.test(id))
    ) {
      return undefined;
    }
    return ids as string[];
  } catch {
    return undefined;
  }
}

async function readBody(file: FileHandle, member: IndexedMember): Promise<Buffer> {
  const body = Buffer.alloc(member.size);
  const { bytesRead } = await file.read(body, 0, member.size, member.offset);
  return body.subarray(0, bytesRead);
}

/** The members of a plain ustar archive by normalised name, or undefined for any other form. */
async function indexHeaders(
  file: FileHandle,
  maxEntries: number,
): Promise<Map<string, IndexedMember> | undefined> {
  const members = new Map<string, IndexedMember>();
  const block = Buffer.alloc(BLOCK);
  for (let offset = 0; ;) {
    const { bytesRead } = await file.read(block, 0, BLOCK, offset);
    if (bytesRead < BLOCK) return undefined;
    if (isZero(block)) return members;
    if (members.size >= maxEntries || octal(block, 148, 8) !== checksum(block)) return undefined;
    const magic = block.toString("latin1", 257, 263);
    if (magic !== "ustar\0" && magic !== "ustar ") return undefined;
    const type = typeOf(block[156] ?? 0);
    const size = octal(block, 124, 12);
    if (type === undefined || size === undefined) return undefined;
    const prefix = magic === "ustar\0" ? text(block, 345, 155) : "";
    const raw = prefix === "" ? text(block, 0, 100) : `${prefix}/${text(block, 0, 100)}`;
    let name: string;
    try {
      name = normalizeEntryName(raw, "the archive");
    } catch {
      return undefined;
    }
    if (members.has(name)) return undefined;
    members.set(name, { type, offset: offset + BLOCK, size, linkname: text(block, 157, 100) });
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function typeOf(flag: number): IndexedMember["type"] | undefined {
  if (flag === 0 || flag === 0x30) return "file";
  if (flag === 0x35) return "directory";
  if (flag === 0x32) return "symlink";
  return undefined;
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.toString("utf8", 0, end === -1 ? length : end);
}
