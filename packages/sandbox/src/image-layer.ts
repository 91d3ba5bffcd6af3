import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { ArchiveRejection, sniffFormat, TreeCheck, type ExpansionMeter } from "@holdout/archive";

/** Where a member's bytes go on to (the engine, for a load), one chunk at a time. */
export interface MemberSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

/**
 * Streams one layer blob: its bytes go on to `sink` unchanged (the image config's diff IDs bind
 * them, so they cannot be rebuilt), and in the same pass they are decompressed when gzip, counted
 * against `meter` (what the layers unpack to on the engine's disk, so a compressed bomb stops here,
 * before the engine ever gets the manifest that would make it unpack anything), and read by
 * TreeCheck. xz, zstd and bzip2 layers are refused: the engine would unpack them, we could not
 * measure them.
 */
export async function streamLayer(
  name: string,
  chunks: AsyncIterator<unknown>,
  first: Buffer,
  meter: ExpansionMeter,
  sink: MemberSink | undefined,
): Promise<void> {
  const where = `layer ${JSON.stringify(name)}`;
  const format = sniffFormat(first, ["gzip", "xz", "zstd", "bzip2"]);
  if (format === "xz" || format === "zstd" || format === "bzip2") {
    throw new ArchiveRejection(
      "unsupported_compression",
      `${where} is ${format}-compressed; only plain and gzip-compressed layers are accepted (docker save writes plain ones)`,
    );
  }
  const check = new TreeCheck(where);
  const compressed = format === "gzip";
  async function* raw(): AsyncGenerator<Buffer> {
    for (let chunk: Buffer | undefined = first; chunk !== undefined;) {
      if (compressed) meter.input(chunk.length);
      if (sink) await sink.write(chunk);
      yield chunk;
      const next = await chunks.next();
      if (next.done) break;
      if (!Buffer.isBuffer(next.value)) throw new TypeError("expected a Buffer chunk");
      chunk = next.value;
    }
  }
  // Kept: a refusal thrown inside the pipeline may surface there as the AbortError of its teardown.
  let refused: Error | undefined;
  const inspect = (chunk: Buffer): void => {
    try {
      meter.output(chunk.length, compressed);
      check.push(chunk);
    } catch (err) {
      refused ??= err as Error;
      throw refused;
    }
  };
  if (compressed) {
    try {
      await pipeline(Readable.from(raw()), createGunzip({ chunkSize: 256 << 10 }), async (inflated) => {
        for await (const chunk of inflated as AsyncIterable<Buffer>) inspect(chunk);
      });
    } catch (err) {
      if (refused !== undefined) throw refused;
      if ((err as NodeJS.ErrnoException).code?.startsWith("Z_")) {
        throw new ArchiveRejection("not_gzip", `${where} is not valid gzip`, { cause: err });
      }
      throw err;
    }
  } else {
    for await (const chunk of raw()) inspect(chunk);
  }
  check.end();
  if (sink) await sink.end();
}
