import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createGunzip, createGzip } from "node:zlib";
import tar from "tar-stream";
import type { LayerReceived, LayersHeld } from "@holdout/contracts/http";
import { ApiError, request, type Remote } from "./api-client.ts";
import { UsageError } from "./usage-error.ts";

// `holdout submit --image` sends only what the server lacks (docs/participant-guide.md, "Sending
// only what changed"): it asks which of the image's layers the server holds for this team, then
// reads `docker save` as it streams and sends each other layer gzip-compressed, then the config
// and the list of layers. The server checks every layer's digest itself and rebuilds the archive.

export interface LayeredFields {
  model: string;
  description?: string;
  link?: string;
  ensemble?: boolean;
}

export interface LayeredOutcome {
  id: string;
  state: string;
  /** Bytes this command sent: the new layers (gzip) and the submission's JSON. */
  sentBytes: number;
  layersTotal: number;
  layersSent: number;
}

const run = promisify(execFile);
/** Tries of one layer's PUT; a layer that did arrive is simply held on the next query. */
const PUT_TRIES = 3;

/** The image's layers (config diff IDs, bottom first) and ID, from the engine. */
export async function imageLayers(image: string, dockerBin = "docker") {
  const { stdout } = await run(dockerBin, [
    "image",
    "inspect",
    "--format",
    "{{.Id}} {{json .RootFS.Layers}}",
    image,
  ]).catch((err: NodeJS.ErrnoException & { stderr?: string }) => {
    if (err.code === "ENOENT")
      throw new UsageError(`cannot run \`${dockerBin}\`: is Docker installed and on PATH?`);
    throw new UsageError(`\`docker image inspect ${image}\` failed: ${(err.stderr ?? err.message).trim()}`);
  });
  const [id = "", layers = "[]"] = stdout.trim().split(" ");
  return { imageId: id, layers: JSON.parse(layers) as string[] };
}

function call(remote: Remote, method: string, url: string, init: RequestInit): Promise<Response> {
  return request(remote, url, { method, ...init });
}

/**
 * Sends `image` as a layered upload; `log` gets one line per layer. A layer the server removed
 * between the query and the submission (its retention or the team's cap) refuses the submission,
 * uncharged: the whole exchange is then run once more, which sends that layer again.
 */
export async function sendLayered(
  remote: Remote,
  image: string,
  fields: LayeredFields,
  log: (line: string) => void,
  dockerBin = "docker",
): Promise<LayeredOutcome> {
  try {
    return await sendLayersOnce(remote, image, fields, log, dockerBin);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "HOLDOUT_ERR_LAYER_UNKNOWN") throw err;
    log("the server no longer holds a layer it had; sending again what it lacks");
    return sendLayersOnce(remote, image, fields, log, dockerBin);
  }
}

async function sendLayersOnce(
  remote: Remote,
  image: string,
  fields: LayeredFields,
  log: (line: string) => void,
  dockerBin: string,
): Promise<LayeredOutcome> {
  const { imageId, layers } = await imageLayers(image, dockerBin);
  const wanted = new Set(layers);
  const query = await call(remote, "POST", "/api/v1/layers/query", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ digests: [...wanted] }),
  });
  const have = new Set(((await query.json()) as LayersHeld).held);
  log(`${have.size} of ${wanted.size} layers already on the server; sending the others (gzip)`);

  const spool = await mkdtemp(path.join(os.tmpdir(), "holdout-layers-"));
  let sentBytes = 0;
  let layersSent = 0;
  let config: Buffer | null = null;
  let stop = () => {};
  try {
    const child = spawn(dockerBin, ["save", image], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d.slice(0, 4000)));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    stop = () => child.kill();
    const extract = tar.extract();
    child.stdout.once("error", (err) => extract.destroy(err));
    child.stdout.pipe(extract);
    for await (const entry of extract) {
      const { name, type } = entry.header;
      const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1];
      const json = /^([0-9a-f]{64})\.json$/.exec(name)?.[1];
      const configHex = imageId.slice(7);
      if (type !== "file") {
        entry.resume();
      } else if (blob === configHex || json === configHex) {
        config = await collect(entry);
      } else if (blob && have.has(`sha256:${blob}`)) {
        // Docker 25's layout names a layer by its digest: one the server holds is not even read.
        // (A blob named otherwise is a manifest, an index, or a layer the containerd image store
        // keeps compressed: spooled below, unpacked, and known by its diff ID.)
        entry.resume();
      } else if (blob || name.endsWith("/layer.tar")) {
        const spooled = await spoolLayer(entry, spool);
        if (wanted.has(spooled.digest) && !have.has(spooled.digest)) {
          const received = await putLayer(remote, spooled.file, spooled.digest);
          sentBytes += received.receivedBytes;
          layersSent++;
          have.add(spooled.digest);
          log(
            `sent layer ${spooled.digest.slice(0, 19)}… (${received.receivedBytes} bytes gzip, ${received.size} unpacked)`,
          );
        }
        await rm(spooled.file, { force: true });
      } else {
        entry.resume();
      }
    }
    const code = await exited;
    if (code !== 0) {
      throw new UsageError(
        `\`docker save ${image}\` failed: ${stderr.trim().split("\n").pop() ?? `exit ${code}`}`,
      );
    }
  } finally {
    // A refusal mid-way leaves docker save with no reader: it must not linger.
    stop();
    await rm(spool, { recursive: true, force: true });
  }
  if (!config) throw new Error(`\`docker save ${image}\` held no config ${imageId}`);
  const missing = layers.filter((d) => !have.has(d));
  if (missing.length > 0) throw new Error(`\`docker save ${image}\` held no layer ${missing.join(", ")}`);

  const body = JSON.stringify({ ...fields, config: config.toString("base64"), layers });
  const res = await call(remote, "POST", "/api/v1/submissions/layered", {
    headers: { "content-type": "application/json" },
    body,
  });
  sentBytes += Buffer.byteLength(body);
  const accepted = (await res.json()) as { id: string; state: string };
  return { id: accepted.id, state: accepted.state, sentBytes, layersTotal: wanted.size, layersSent };
}

async function collect(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Writes a layer to the spool uncompressed (a gzip blob, as the containerd image store saves them,
 * is unpacked) while hashing it: its diff ID. Only a layer the server lacks is then compressed, as
 * it is sent; one it holds costs a hash.
 */
async function spoolLayer(
  entry: AsyncIterable<unknown>,
  dir: string,
): Promise<{ file: string; digest: string }> {
  const hash = createHash("sha256");
  const file = path.join(dir, `layer-${Date.now()}-${Math.random().toString(16).slice(2)}.tar`);
  const chunks = (entry as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first = await chunks.next();
  const head = first.done ? Buffer.alloc(0) : first.value;
  async function* all() {
    yield head;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const plain = gzip ? Readable.from(all()).pipe(createGunzip()) : all();
  await pipeline(
    plain,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(file),
  );
  return { file, digest: `sha256:${hash.digest("hex")}` };
}

/** Sends a spooled layer, gzip-compressed on the fly; tried again from the file if the connection breaks. */
async function putLayer(remote: Remote, file: string, digest: string): Promise<LayerReceived> {
  for (let attempt = 1; ; attempt++) {
    try {
      const gzip = createReadStream(file).pipe(createGzip({ level: 6 }));
      const res = await call(remote, "PUT", `/api/v1/layers/${digest}`, {
        headers: { "content-type": "application/gzip" },
        body: Readable.toWeb(gzip) as ReadableStream<Uint8Array>,
        duplex: "half",
      });
      return (await res.json()) as LayerReceived;
    } catch (err) {
      // A refusal (4xx) is final; a broken connection or a 5xx is tried again.
      const status = (err as { status?: number }).status;
      if (attempt >= PUT_TRIES || (status !== undefined && status < 500)) throw err;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}
