import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { pipeline, Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract as tarExtract, type Extract, type Header } from "tar-stream";
import { ExpansionMeter } from "./budget.ts";
import { TarHeaderCheck, type EntryHead, type HeaderPolicy } from "./header-check.ts";
import { ArchiveRejection } from "./rejection.ts";
import { sniffFormat } from "./sniff.ts";

/** What reading one tar (plain or gzip) may cost. Exceeding any is the sender's fault. */
export interface WalkLimits {
  /** The tar stream after gunzip (for a plain tar, the file). */
  maxTarBytes: number;
  /** Tar bytes per gzip byte, see ExpansionMeter. */
  maxCompressionRatio: number;
  /** Entries, directories included. */
  maxEntries: number;
}

/** One entry's body as it streams by; tar-stream's own types do not name it. */
export type EntryBody = Extract extends AsyncIterable<infer E> ? E : never;

export type EntryHandler = (entry: EntryHead, body: EntryBody) => Promise<void>;

/** Large reads: with the 64 KiB default the file reads, gunzip and the consumer take turns. */
const READ_CHUNK = 1 << 20;

/**
 * Whether a file is gzip (by its magic bytes). Formats this package does not decompress (xz,
 * zstd, bzip2) are refused here, saying so, rather than failing later as "not a tar".
 */
export async function isGzipFile(path: string, where = "the archive"): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const format = sniffFormat(head.subarray(0, bytesRead), ["gzip", "xz", "zstd", "bzip2"]);
    if (format === "xz" || format === "zstd" || format === "bzip2") {
      throw new ArchiveRejection(
        "unsupported_compression",
        `${where} is ${format}-compressed; send it plain or gzip-compressed`,
      );
    }
    return format === "gzip";
  } finally {
    await file.close();
  }
}

/**
 * The bounded tar walk: runs `handle` on every entry of the tar (or gzip-compressed tar) at `path`,
 * in order. Two readers read every header: tar-stream, which delivers the entries, and
 * TarHeaderCheck on the raw blocks just before it, which refuses the forms readers disagree on;
 * the walk also refuses any entry on which the two disagree (name, type, size, link). Sizes, the
 * compression ratio and the entry count are enforced as the stream goes, so a bomb stops early.
 *
 * Damage to the archive (bad gzip, bad header, truncation) is an ArchiveRejection; failing to read
 * our own file is not (the error is passed on as it is).
 */
export async function walkTar(
  path: string,
  options: { compressed: boolean; limits: WalkLimits; policy: HeaderPolicy },
  handle: EntryHandler,
): Promise<void> {
  const { compressed, limits, policy } = options;
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  let readFailed = false;
  file.once("error", () => (readFailed = true));
  const meter = new ExpansionMeter(limits.maxTarBytes, limits.maxCompressionRatio, policy.where);
  const seen: EntryHead[] = [];
  const check = new TarHeaderCheck(policy, (entry) => {
    if (check.entries > limits.maxEntries) {
      throw new ArchiveRejection(
        "too_many_entries",
        `${policy.where} holds more than ${limits.maxEntries} entries`,
      );
    }
    seen.push(entry);
  });
  let refused: Error | undefined;
  const countIn = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      meter.input(chunk.length);
      done(null, chunk);
    },
  });
  const inspect = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      try {
        meter.output(chunk.length, compressed);
        check.push(chunk);
      } catch (err) {
        refused ??= err as Error;
        return done(refused);
      }
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      try {
        check.end();
      } catch (err) {
        refused ??= err as Error;
        return done(refused);
      }
      done();
    },
  });
  const extract = tarExtract();
  const finished = new Promise<void>((resolve, reject) => {
    const onEnd = (err: Error | null | undefined): void => (err ? reject(err) : resolve());
    if (compressed) pipeline(file, countIn, createGunzip({ chunkSize: 256 << 10 }), inspect, extract, onEnd);
    else pipeline(file, inspect, extract, onEnd);
  });
  // A failure rejects both `finished` and the iterator below, in either order; awaiting still sees it.
  finished.catch(() => undefined);
  try {
    for await (const entry of extract) {
      const ours = seen.shift();
      agree(ours, entry.header, policy.where);
      await handle(ours, entry);
    }
    await finished;
    if (seen.length > 0) {
      throw new ArchiveRejection(
        "ambiguous_header",
        `${policy.where}: tar-stream saw fewer entries than the header check`,
      );
    }
  } catch (err) {
    file.destroy();
    extract.destroy();
    if (refused !== undefined) throw refused;
    if (err instanceof ArchiveRejection || readFailed) throw err;
    if (!isFormatError(err)) throw err;
    throw new ArchiveRejection(
      compressed ? "not_gzip" : "not_tar",
      `${policy.where} is not a valid ${compressed ? "gzip-compressed " : ""}tar archive`,
      { cause: err },
    );
  }
}

/** zlib's Z_* codes and tar-stream's code-less errors are the archive's; ENOSPC, EIO and the like are ours. */
function isFormatError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined || code.startsWith("Z_") || code === "ERR_STREAM_PREMATURE_CLOSE";
}

const TAR_STREAM_TYPE: Record<EntryHead["type"], Header["type"]> = {
  file: "file",
  directory: "directory",
  symlink: "symlink",
  link: "link",
  "char-device": "character-device",
  "block-device": "block-device",
  fifo: "fifo",
};

/** The two readers must have read the same entry; any difference is a form we cannot trust. */
function agree(ours: EntryHead | undefined, theirs: Header, where: string): asserts ours is EntryHead {
  const differs =
    ours === undefined
      ? "an entry the header check did not see"
      : ours.name !== theirs.name && `${ours.name}/` !== theirs.name
        ? `the name (${JSON.stringify(ours.name)} / ${JSON.stringify(theirs.name)})`
        : TAR_STREAM_TYPE[ours.type] !== theirs.type
          ? `the type of ${JSON.stringify(ours.name)}`
          : ours.size !== (theirs.size ?? 0)
            ? `the size of ${JSON.stringify(ours.name)}`
            : (ours.type === "symlink" || ours.type === "link") && ours.linkname !== (theirs.linkname ?? "")
              ? `the link target of ${JSON.stringify(ours.name)}`
              : undefined;
  if (differs) {
    throw new ArchiveRejection("ambiguous_header", `${where}: two tar readers disagree on ${differs}`);
  }
}
