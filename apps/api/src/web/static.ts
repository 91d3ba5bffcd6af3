import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { Errors } from "../errors.ts";

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "static");

const TYPES: Record<string, string> = {
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface Asset {
  body: Buffer;
  type: string;
}

/** Public URL of each asset by its file name: `app.css` → `/static/app.1a2b3c4d5e.css`. */
export type AssetUrls = Record<string, string>;

/**
 * The pages' few stylesheets and scripts, read once at start and served from memory under names
 * carrying a digest of their content: a browser may cache them forever, and a new release changes
 * the names. Nothing is fetched from anywhere else (no CDN, no external font).
 */
export async function registerStaticAssets(app: FastifyInstance): Promise<AssetUrls> {
  const urls: AssetUrls = {};
  const assets = new Map<string, Asset>();
  for (const name of (await readdir(STATIC_DIR)).sort()) {
    const ext = path.extname(name);
    const type = TYPES[ext];
    if (!type) continue;
    const body = await readFile(path.join(STATIC_DIR, name));
    const digest = createHash("sha256").update(body).digest("hex").slice(0, 10);
    const served = `${path.basename(name, ext)}.${digest}${ext}`;
    assets.set(served, { body, type });
    // Under the prefix the pages are registered at (a competition's `/c/{slug}`), beside them.
    urls[name] = `${app.prefix}/static/${served}`;
  }
  app.get<{ Params: { file: string } }>(
    "/static/:file",
    { schema: { hide: true } },
    async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset) throw new Errors.NotFound(`no asset ${request.params.file}`);
      return reply
        .type(asset.type)
        .header("cache-control", "public, max-age=31536000, immutable")
        .send(asset.body);
    },
  );
  return urls;
}
