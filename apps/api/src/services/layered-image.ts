import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { claimHeldLayers, type Db } from "@holdout/db";
import { Errors } from "../errors.ts";
import { DIGEST, layerFile } from "./layer-store.ts";
import { partialDirOf } from "./upload-store.ts";

// A layered submission made whole again: the layers the team holds and the config it sent, written
// as the archive `docker save` would have written (legacy layout: `<hex>/layer.tar`, `<hex>.json`,
// `manifest.json`). The result is an ordinary image upload: the intake sniffs, measures and places
// it like any other, and the worker checks and loads it as it would a full upload, so nothing the
// layer store holds reaches the engine without the same ingest checks (docs/security.md).

/** What a client sends instead of the archive: the config's bytes and its layers, bottom first. */
export interface LayeredImage {
  config: Buffer;
  layers: string[];
}

/** The largest image config accepted (the worker refuses larger ones too). */
export const MAX_CONFIG_BYTES = 4 * 1024 ** 2;
/** More layers than any image the worker accepts (100), with room for its own refusal to speak. */
export const MAX_LAYERS = 128;

/** Checks the request's shape; every problem names the field. */
export function layeredImageOf(body: { config: string; layers: string[] }): LayeredImage {
  const bad = body.layers.findIndex((d) => !DIGEST.test(d));
  if (bad >= 0) {
    throw Object.assign(
      new Errors.InvalidField(
        `field \`layers\` item ${bad} is not a layer digest (sha256: and 64 lowercase hex digits)`,
      ),
      { errors: [{ field: `layers.${bad}`, message: "is not sha256:<64 hex digits>" }] },
    );
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.config)) {
    throw Object.assign(new Errors.InvalidField("field `config` is not base64"), {
      errors: [{ field: "config", message: "is not base64 (the image config's bytes, base64-encoded)" }],
    });
  }
  const config = Buffer.from(body.config, "base64");
  if (config.length === 0 || config.length > MAX_CONFIG_BYTES) {
    throw Object.assign(
      new Errors.InvalidField(`field \`config\` must hold 1 to ${MAX_CONFIG_BYTES} bytes of image config`),
      { errors: [{ field: "config", message: `must hold 1 to ${MAX_CONFIG_BYTES} bytes` }] },
    );
  }
  return { config, layers: body.layers };
}

/**
 * Writes the archive of `image` for upload `id` to a partial file of this process and returns its
 * path. Every layer must be held by `teamId` (held by another team is the same as unknown: no
 * answer tells a team what others hold); the archive may not be over `maxBytes`.
 */
export async function assembleImage(
  db: Db,
  dataDir: string,
  teamId: string,
  id: string,
  image: LayeredImage,
  maxBytes: number,
): Promise<string> {
  const distinct = [...new Set(image.layers)];
  const held = new Set((await claimHeldLayers(db, teamId, distinct)).map((l) => l.digest));
  const unknown = distinct.filter((d) => !held.has(d));
  if (unknown.length > 0) throw unknownLayers(unknown);
  // Opened before the archive is written: a layer swept or evicted from here on stays readable.
  const handles = new Map<string, { handle: FileHandle; size: number }>();
  const partialDir = partialDirOf(dataDir);
  const out = path.join(partialDir, `${id}.part`);
  try {
    for (const digest of distinct) {
      const handle = await open(layerFile(dataDir, teamId, digest), "r").catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") throw unknownLayers([digest]);
          throw err;
        },
      );
      handles.set(digest, { handle, size: (await handle.stat()).size });
    }
    const total = [...handles.values()].reduce((sum, h) => sum + h.size + 2048, image.config.length + 8192);
    if (total > maxBytes) {
      throw new Errors.UploadTooLarge(
        `the image's layers and config come to about ${total} bytes, over the size limit for submissions (${maxBytes} bytes)`,
      );
    }
    await mkdir(partialDir, { recursive: true });
    await pipeline(packArchive(image, handles), createWriteStream(out, { flags: "wx", mode: 0o600 }));
    return out;
  } catch (err) {
    await rm(out, { force: true });
    throw err;
  } finally {
    for (const { handle } of handles.values()) await handle.close();
  }
}

function unknownLayers(digests: string[]) {
  const shown =
    digests.slice(0, 5).join(", ") + (digests.length > 5 ? `, and ${digests.length - 5} more` : "");
  return new Errors.LayerUnknown(
    `your team's layer store holds no layer ${shown}: send it first (PUT /api/v1/layers/{digest}), or send the whole image`,
  );
}

/** The archive's bytes, in `docker save`'s legacy layout; layers streamed from their open files. */
function packArchive(image: LayeredImage, handles: Map<string, { handle: FileHandle; size: number }>) {
  const pack = tar.pack();
  const configHex = createHash("sha256").update(image.config).digest("hex");
  const write = async () => {
    for (const [digest, { handle, size }] of handles) {
      const hex = digest.slice(7);
      await entry(pack, { name: `${hex}/`, type: "directory" });
      await entry(pack, { name: `${hex}/VERSION`, size: 3 }, Buffer.from("1.0"));
      await new Promise<void>((resolve, reject) => {
        const header = { name: `${hex}/layer.tar`, size, mode: 0o644 } as tar.Header;
        const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
        // autoClose off: the handle is closed by assembleImage, once the archive is written.
        const source = handle.createReadStream({ start: 0, autoClose: false });
        source.once("error", reject);
        source.pipe(sink);
      });
    }
    await entry(pack, { name: `${configHex}.json`, size: image.config.length }, image.config);
    const manifest = Buffer.from(
      JSON.stringify([
        {
          Config: `${configHex}.json`,
          RepoTags: null,
          Layers: image.layers.map((d) => `${d.slice(7)}/layer.tar`),
        },
      ]),
    );
    await entry(pack, { name: "manifest.json", size: manifest.length }, manifest);
    pack.finalize();
  };
  write().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return pack;
}

function entry(
  pack: tar.Pack,
  header: { name: string; type?: "directory"; size?: number },
  body?: Buffer,
): Promise<void> {
  const full = { mode: header.type === "directory" ? 0o755 : 0o644, ...header } as tar.Header;
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) pack.entry(full, body, done);
    else pack.entry(full, done);
  });
}
