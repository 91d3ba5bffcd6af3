import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { ArchiveRejection, ExpansionMeter } from "@holdout/archive";
import { forgetLayers, recordLayer, teamLayersByUse, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { fsyncPath } from "./files.ts";

// The layer store of layered uploads (docs/architecture.md, "Layered uploads"): the uncompressed
// layer tars a team sent, one file per team and digest, under the data directory. A layer enters the
// store only under the digest the API computed over its bytes as they arrived, never the one the
// client named: the name is checked against it, and a mismatch keeps nothing. Partial files are
// hidden names in the team's directory, renamed into place only once verified, so a layer that is
// half sent is never used.

export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const layersDirOf = (dataDir: string) => path.join(dataDir, "layers");
export const teamLayersDir = (dataDir: string, teamId: string) => path.join(layersDirOf(dataDir), teamId);
/** A stored layer's file: the digest's hex (what the store's sweep recognises as a layer). */
export const layerFile = (dataDir: string, teamId: string, digest: string) =>
  path.join(teamLayersDir(dataDir, teamId), digest.slice("sha256:".length));
export const PARTIAL_PREFIX = ".partial-";

export interface LayerStoreLimits {
  /** Bytes one layer may take on the wire and once uncompressed. */
  maxLayerBytes: number;
  /** Uncompressed bytes a team's stored layers may take together; the least recently used go first. */
  maxTeamBytes: number;
  /** Uncompressed bytes per gzip byte (after the archive package's slack): a bomb stops early. */
  maxCompressionRatio: number;
}

export interface ReceivedLayer {
  digest: string;
  /** Uncompressed bytes stored. */
  size: number;
  /** Bytes that travelled (gzip or plain, as sent). */
  receivedBytes: number;
}

/**
 * Receives one layer's body (gzip or a plain tar, told by its first bytes), computes the SHA-256 of
 * the uncompressed bytes while writing them to a partial file, and places it under `claimed` only if
 * that is the digest computed. Makes room under the team's cap (least recently used layers first),
 * then records the layer. Anything refused or broken leaves no file.
 */
export async function receiveLayer(
  db: Db,
  dataDir: string,
  teamId: string,
  claimed: string,
  body: Readable,
  limits: LayerStoreLimits,
): Promise<ReceivedLayer> {
  const dir = teamLayersDir(dataDir, teamId);
  await mkdir(dir, { recursive: true });
  const partial = path.join(dir, `${PARTIAL_PREFIX}${claimed.slice(7)}-${randomUUID()}`);
  const hash = createHash("sha256");
  const meter = new ExpansionMeter(limits.maxLayerBytes, limits.maxCompressionRatio, "the layer");
  let receivedBytes = 0;
  let size = 0;
  let gzip = false;
  try {
    async function* counted() {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        receivedBytes += chunk.length;
        meter.input(chunk.length);
        if (receivedBytes > limits.maxLayerBytes) {
          throw new Errors.UploadTooLarge(
            `the layer ${claimed} is over the size limit for a layer (${limits.maxLayerBytes} bytes)`,
          );
        }
        yield chunk;
      }
    }
    async function* hashed() {
      for await (const chunk of inflate(counted(), (isGzip) => (gzip = isGzip), claimed)) {
        meter.output(chunk.length, gzip);
        size += chunk.length;
        hash.update(chunk);
        yield chunk;
      }
    }
    await pipeline(
      hashed(),
      createWriteStream(partial, { flags: "wx", mode: 0o600, highWaterMark: 4 * 1024 * 1024 }),
    );
    const computed = `sha256:${hash.digest("hex")}`;
    if (computed !== claimed) {
      throw new Errors.LayerDigestMismatch(
        `the bytes sent for layer ${claimed} have the digest ${computed} (SHA-256 of the uncompressed layer tar); nothing was kept: send the layer under its own digest`,
      );
    }
    await makeRoom(db, dataDir, teamId, claimed, size, limits.maxTeamBytes);
    await fsyncPath(partial);
    await rename(partial, layerFile(dataDir, teamId, claimed));
    await recordLayer(db, { teamId, digest: claimed, size });
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof ArchiveRejection) {
      throw err.code === "too_large"
        ? new Errors.UploadTooLarge(`the layer ${claimed} ${err.message.replace(/^the layer /, "")}`)
        : new Errors.LayerInvalid(`${err.message} [${err.code}]`);
    }
    throw err;
  }
  return { digest: claimed, size, receivedBytes };
}

/** The body as the layer tar: gunzipped when its first bytes are gzip's magic, else as it came. */
async function* inflate(
  source: AsyncIterable<Buffer>,
  told: (gzip: boolean) => void,
  claimed: string,
): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await it.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  async function* all() {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  told(gzip);
  if (!gzip) return yield* all();
  const gunzip = createGunzip({ chunkSize: 256 << 10 });
  const raw = Readable.from(all());
  raw.once("error", (err) => gunzip.destroy(err));
  raw.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof Error && "code" in err && String(err.code).startsWith("Z_")) {
      throw new Errors.LayerInvalid(`the layer ${claimed} starts as gzip but is not valid gzip`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    raw.destroy();
  }
}

/**
 * Evicts the team's least recently used layers until `size` more bytes fit under its cap. A layer
 * evicted here that a submission in preparation meant to use is refused there as not held, and sent
 * again: the cap is what bounds a team's disk, not a promise the query made.
 */
async function makeRoom(
  db: Db,
  dataDir: string,
  teamId: string,
  digest: string,
  size: number,
  maxTeamBytes: number,
): Promise<void> {
  if (size > maxTeamBytes) {
    throw new Errors.UploadTooLarge(
      `the layer ${digest} unpacks to ${size} bytes, more than a team's layer store holds (${maxTeamBytes} bytes)`,
    );
  }
  const held = (await teamLayersByUse(db, teamId)).filter((l) => l.digest !== digest);
  let total = held.reduce((sum, l) => sum + Number(l.size), 0);
  for (const layer of held) {
    if (total + size <= maxTeamBytes) break;
    for (const gone of await forgetLayers(db, teamId, [layer.digest])) {
      await rm(layerFile(dataDir, teamId, gone), { force: true });
    }
    total -= Number(layer.size);
  }
}
