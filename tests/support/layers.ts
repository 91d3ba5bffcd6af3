import { gzipSync } from "node:zlib";
import { configBytes, type ImageParts } from "./crafted-images.ts";

// Layered uploads as a client speaks them, over real HTTP: ask which layers the server holds for
// the team, send the others, submit the config and the list (docs/participant-guide.md).

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function queryLayers(url: string, token: string, digests: string[]) {
  const res = await fetch(`${url}/api/v1/layers/query`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ digests }),
  });
  return { status: res.status, body: (await res.json()) as { held: string[]; code?: string } };
}

/** PUTs `tarBytes` (gzipped unless `plain`) under `digest`, which a lying client may get wrong. */
export async function putLayer(url: string, token: string, digest: string, tarBytes: Buffer, plain = false) {
  const res = await fetch(`${url}/api/v1/layers/${digest}`, {
    method: "PUT",
    headers: { ...bearer(token), "content-type": plain ? "application/octet-stream" : "application/gzip" },
    body: plain ? tarBytes : gzipSync(tarBytes),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      digest: string;
      size: number;
      receivedBytes: number;
      code?: string;
      detail?: string;
    },
  };
}

export async function submitLayered(
  url: string,
  token: string,
  body: { model: string; config: Buffer; layers: string[] },
) {
  const res = await fetch(`${url}/api/v1/submissions/layered`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ ...body, config: body.config.toString("base64") }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { id: string; state: string; code?: string; detail?: string },
  };
}

/**
 * `parts` sent the layered way: the layers the server lacks, then the submission. Returns the
 * submission's answer and the layer bytes that travelled.
 */
export async function sendLayeredImage(url: string, token: string, parts: ImageParts, model: string) {
  const digests = parts.layers.map((l) => l.diffId);
  const { body: query } = await queryLayers(url, token, digests);
  let sentBytes = 0;
  for (const layer of parts.layers) {
    if (query.held.includes(layer.diffId)) continue;
    const put = await putLayer(url, token, layer.diffId, layer.stored);
    if (put.status !== 201)
      throw new Error(`layer ${layer.diffId}: ${put.status} ${JSON.stringify(put.body)}`);
    sentBytes += put.body.receivedBytes;
  }
  const submitted = await submitLayered(url, token, { model, config: configBytes(parts), layers: digests });
  return { ...submitted, sentBytes, held: query.held };
}
