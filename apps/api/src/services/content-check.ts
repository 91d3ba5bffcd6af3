import { Transform, type TransformCallback } from "node:stream";
import { sniffFormat, type ArchiveFormat } from "@holdout/archive";
import { Errors } from "../errors.ts";
import { ReceiptHash } from "./receipt-hash.ts";

// What an upload's bytes are: their format told from the first bytes (a wrong file is refused
// after a few bytes, not gigabytes), their size and their SHA-256 receipt.

/**
 * Sniffs the format from the first bytes (refusing a wrong file early) and meters size and hash.
 * Each chunk goes on at once; the SHA-256 receipt is computed on the hashing thread (receipt-hash.ts)
 * and the next chunk is taken only once that thread has room for it.
 */
export class ContentCheck extends Transform {
  size = 0;
  readonly #hash = new ReceiptHash();
  readonly #sniffer: Sniffer;
  #ended = false;

  constructor(kind: "image" | "bundle") {
    super();
    this.#sniffer = snifferFor(kind);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    const err = this.#sniffer.look(chunk);
    if (err) return done(err);
    this.size += chunk.length;
    let room: Promise<void> | undefined;
    try {
      room = this.#hash.update(chunk);
    } catch (failure) {
      return done(failure as Error);
    }
    this.push(chunk);
    if (room) room.then(() => done(), done);
    else done();
  }

  override _flush(done: TransformCallback) {
    this.#ended = true;
    this.#hash.end();
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void) {
    // A failed or abandoned upload: its receipt is of no use.
    if (!this.#ended || err) this.#hash.discard();
    done(err);
  }

  assertComplete(): Format {
    return this.#sniffer.assertComplete();
  }

  /** The hex SHA-256 of everything that went through; once the stream has ended. */
  sha256(): Promise<string> {
    return this.#hash.digest();
  }
}

export type Format = Extract<ArchiveFormat, "gzip" | "tar" | "zip">;
type Verdict = Format | "invalid" | "undecided";

/**
 * Looks at the first bytes and stops a transfer early when they are not what the field expects,
 * so a wrong file costs a few bytes, not gigabytes of disk.
 */
export class Sniffer {
  kind: Format | null = null;
  #head = Buffer.alloc(0);

  constructor(
    private readonly sniff: (head: Buffer) => Verdict,
    private readonly reject: () => Error,
  ) {}

  /** Feeds the next bytes; returns the rejection once they show the wrong format. */
  look(chunk: Buffer): Error | null {
    if (this.kind !== null) return null;
    this.#head = Buffer.concat([this.#head, chunk]);
    const verdict = this.sniff(this.#head);
    if (verdict === "invalid") return this.reject();
    this.kind = verdict === "undecided" ? null : verdict;
    return null;
  }

  assertComplete(): Format {
    if (this.kind === null) throw this.reject();
    return this.kind;
  }
}

/** The format check for an upload of `kind`, fed with its leading bytes. */
export function snifferFor(kind: "image" | "bundle"): Sniffer {
  return kind === "image" ? new Sniffer(sniffTarball, notTar) : new Sniffer(sniffBundle, notBundle);
}

function notTar() {
  return new Errors.UploadNotTar(
    "the file in `image` is not a tar archive or a gzip stream: upload the output of `docker save IMAGE` (optionally piped through gzip)",
  );
}

function notBundle() {
  return new Errors.BundleNotArchive("the file in `bundle` is not a zip or a tar.gz archive");
}

/** Images: `docker save` output, plain or gzipped (no zip, and no xz/zstd the worker cannot measure). */
function sniffTarball(head: Buffer): Verdict {
  const format = sniffFormat(head, ["gzip", "tar"]);
  return format === "gzip" || format === "tar" || format === "undecided" ? format : "invalid";
}

/** Bundles: a zip, or a tar.gz (told by its gzip magic; the tar inside is checked on extraction). */
function sniffBundle(head: Buffer): Verdict {
  const format = sniffFormat(head, ["gzip", "zip"]);
  return format === "gzip" || format === "zip" || format === "undecided" ? format : "invalid";
}
