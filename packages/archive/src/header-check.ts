import { ArchiveRejection } from "./rejection.ts";
import { BLOCK, checksum, entryType, isZero, octal, type EntryType } from "./header-fields.ts";

export type { EntryType };

/**
 * The raw-header check: a push parser of the 512-byte header blocks of a tar stream that refuses
 * every form two readers (tar-stream here, Go's archive/tar in the Docker engine, GNU tar) could
 * read differently. It looks at headers only; entry bodies are skipped by arithmetic, so it costs
 * next to nothing on a stream of large files. See the package README for why it exists beside
 * tar-stream rather than instead of it.
 */

/** One entry as it takes effect: the PAX or GNU long name already applied. */
export interface EntryHead {
  /** As written (not normalised): `./a/b`, `a/b/`. */
  name: string;
  type: EntryType;
  /** Body bytes (0 for every type but `file`). */
  size: number;
  linkname: string;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Device numbers, for char and block devices (0 otherwise). */
  devmajor: number;
  devminor: number;
}

export interface HeaderPolicy {
  /** For messages: "the archive", `layer "ab12…/layer.tar"`. */
  where: string;
  /**
   * `outer`: a `docker save` archive, whose names are short: no PAX path/linkpath, no GNU long
   * names, no xattrs. `layer`: the file-system tar of an image layer, which legitimately uses PAX
   * (long names, xattrs) and GNU long names, one form at a time.
   */
  kind: "outer" | "layer";
}

/** A PAX or GNU long-name body is a few hundred bytes; anything near this is not one. */
const MAX_META_BYTES = 1024 * 1024;

const OUTER_PAX_KEYS = new Set(["size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"]);
const LAYER_PAX_KEYS = new Set([...OUTER_PAX_KEYS, "path", "linkpath", "comment"]);
/** Extended attributes: Go's reader and the engine apply `SCHILY.xattr.*`, nothing else. */
const XATTR_PREFIX = "SCHILY.xattr.";

const utf8 = new TextDecoder("utf-8", { fatal: true });

interface Pending {
  pax?: Map<string, string>;
  longName?: string;
  longLink?: string;
}

export class TarHeaderCheck {
  readonly #policy: HeaderPolicy;
  readonly #onEntry: (entry: EntryHead) => void;
  readonly #head = Buffer.alloc(BLOCK);
  #headFill = 0;
  /** Body bytes of the current entry still to come, then its padding to the block. */
  #remaining = 0;
  #padding = 0;
  /** The body being collected: a PAX header or a GNU long name/link. */
  #meta: { flag: number; chunks: Buffer[]; size: number; at: number } | undefined;
  #pending: Pending = {};
  #ended = false;
  #offset = 0;
  #entries = 0;

  constructor(policy: HeaderPolicy, onEntry: (entry: EntryHead) => void) {
    this.#policy = policy;
    this.#onEntry = onEntry;
  }

  /** Entries seen so far (PAX and GNU meta headers not counted). */
  get entries(): number {
    return this.#entries;
  }

  /** Feeds the next bytes of the stream; throws ArchiveRejection at the first header refused. */
  push(chunk: Buffer): void {
    let p = 0;
    while (p < chunk.length) {
      if (this.#ended) {
        // After the end-of-archive block only zero padding: GNU tar and Go stop there, tar-stream
        // reads on, so anything else would be seen by one reader and not the other.
        for (let i = p; i < chunk.length; i++) {
          if (chunk[i] !== 0) {
            this.#reject(
              "ambiguous_header",
              `data follows the end-of-archive marker at byte ${this.#offset + i}`,
            );
          }
        }
        this.#offset += chunk.length - p;
        return;
      }
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - p);
        if (this.#meta) {
          this.#meta.chunks.push(chunk.subarray(p, p + n));
        }
        this.#remaining -= n;
        p += n;
        this.#offset += n;
        if (this.#remaining === 0 && this.#meta && this.#padding === 0) this.#finishMeta();
        continue;
      }
      if (this.#padding > 0) {
        const n = Math.min(this.#padding, chunk.length - p);
        this.#padding -= n;
        p += n;
        this.#offset += n;
        if (this.#padding === 0 && this.#meta) this.#finishMeta();
        continue;
      }
      if (this.#headFill === 0 && chunk.length - p >= BLOCK) {
        this.#header(chunk.subarray(p, p + BLOCK), this.#offset);
        p += BLOCK;
        this.#offset += BLOCK;
        continue;
      }
      const n = Math.min(BLOCK - this.#headFill, chunk.length - p);
      chunk.copy(this.#head, this.#headFill, p, p + n);
      this.#headFill += n;
      p += n;
      this.#offset += n;
      if (this.#headFill === BLOCK) {
        this.#headFill = 0;
        this.#header(this.#head, this.#offset - BLOCK);
      }
    }
  }

  /** The stream ended: refuses one cut inside a header or an entry. */
  end(): void {
    if (this.#headFill > 0 || this.#remaining > 0 || this.#meta || this.#hasPending()) {
      this.#reject("bad_header", `the tar stream is cut off at byte ${this.#offset}, inside an entry`);
    }
  }

  #hasPending(): boolean {
    const p = this.#pending;
    return p.pax !== undefined || p.longName !== undefined || p.longLink !== undefined;
  }

  #reject(code: ConstructorParameters<typeof ArchiveRejection>[0], what: string): never {
    throw new ArchiveRejection(code, `${this.#policy.where}: ${what}`);
  }

  #header(block: Buffer, at: number): void {
    if (isZero(block)) {
      if (this.#hasPending())
        this.#reject("ambiguous_header", `an extended header at byte ${at} describes no entry`);
      this.#ended = true;
      return;
    }
    const stored = octal(block, 148, 8);
    if (stored === undefined || stored !== checksum(block)) {
      if (at === 0) this.#reject("not_tar", "not a tar archive (its first block is not a tar header)");
      this.#reject("bad_header", `the header at byte ${at} has a bad checksum (damaged)`);
    }
    const magic = block.toString("latin1", 257, 265);
    const posix = magic === "ustar\u000000";
    if (!posix && magic !== "ustar  \u0000") {
      this.#reject("bad_header", `the header at byte ${at} is neither POSIX (ustar) nor GNU format`);
    }
    const flag = block[156] ?? 0;
    const size = this.#number(block, 124, 12, "size", at);
    // Owners are not used, but a field one reader parses and another refuses is a disagreement.
    this.#number(block, 108, 8, "uid", at);
    this.#number(block, 116, 8, "gid", at);
    switch (flag) {
      case 0x78: // 'x': PAX extended header for the next entry
      case 0x4c: // 'L': GNU long name
      case 0x4b: // 'K': GNU long link name
        this.#startMeta(flag, size, at);
        return;
      case 0x67: // 'g'
        this.#reject(
          "pax_global",
          `a PAX global header at byte ${at}: readers disagree on whether it applies to later entries`,
        );
      // eslint-disable-next-line no-fallthrough -- #reject never returns
      case 0x53: // 'S'
        this.#reject("gnu_sparse", `a GNU sparse entry at byte ${at}: sparse files are not accepted`);
    }
    const type = entryType(flag);
    if (type === undefined) {
      this.#reject(
        "entry_type",
        `the entry at byte ${at} has type ${JSON.stringify(String.fromCharCode(flag))}; only files, directories, links and devices exist in a tar we read`,
      );
    }
    let name = this.#text(block, 0, 100, at);
    if (posix) {
      const prefix = this.#text(block, 345, 155, at);
      if (prefix !== "") name = `${prefix}/${name}`;
    }
    const pending = this.#pending;
    this.#pending = {};
    const pax = pending.pax;
    const paxPath = pax?.get("path");
    const paxLink = pax?.get("linkpath");
    const paxSize = pax?.get("size");
    if (paxPath !== undefined && pending.longName !== undefined) {
      this.#reject("ambiguous_header", `the entry at byte ${at} has both a PAX path and a GNU long name`);
    }
    if (paxLink !== undefined && pending.longLink !== undefined) {
      this.#reject(
        "ambiguous_header",
        `the entry at byte ${at} has both a PAX linkpath and a GNU long link name`,
      );
    }
    name = paxPath ?? pending.longName ?? name;
    const linkname = paxLink ?? pending.longLink ?? this.#text(block, 157, 100, at);
    let effectiveSize = size;
    if (paxSize !== undefined) {
      if (!/^[0-9]{1,16}$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) {
        this.#reject("bad_header", `the PAX size of the entry at byte ${at} is not a number`);
      }
      effectiveSize = Number(paxSize);
    }
    if (type !== "file" && effectiveSize !== 0) {
      // Go skips no body for these, tar-stream may: the readers would part ways here.
      this.#reject(
        "ambiguous_header",
        `the ${type} entry ${JSON.stringify(name)} at byte ${at} claims a body`,
      );
    }
    if (type === "file" && name.endsWith("/")) {
      // A regular file named like a directory: tar-stream makes it a directory, Go a file.
      this.#reject(
        "ambiguous_header",
        `the file entry ${JSON.stringify(name)} at byte ${at} is named like a directory`,
      );
    }
    if (name === "") this.#reject("bad_header", `the entry at byte ${at} has no name`);
    this.#entries += 1;
    this.#onEntry({
      name,
      type,
      size: effectiveSize,
      linkname,
      mode: this.#number(block, 100, 8, "mode", at),
      mtime: this.#number(block, 136, 12, "mtime", at),
      devmajor: type.endsWith("-device") ? this.#number(block, 329, 8, "device major", at) : 0,
      devminor: type.endsWith("-device") ? this.#number(block, 337, 8, "device minor", at) : 0,
    });
    this.#remaining = effectiveSize;
    this.#padding = (BLOCK - (effectiveSize % BLOCK)) % BLOCK;
  }

  #startMeta(flag: number, size: number, at: number): void {
    const kind = flag === 0x78 ? "pax" : flag === 0x4c ? "longName" : "longLink";
    if (kind !== "pax" && this.#policy.kind === "outer") {
      this.#reject(
        "gnu_long_name",
        `a GNU long-name header at byte ${at}: a \`docker save\` archive never needs one`,
      );
    }
    if (this.#pending[kind] !== undefined) {
      this.#reject("ambiguous_header", `two extended headers of the same kind in a row at byte ${at}`);
    }
    if (size > MAX_META_BYTES)
      this.#reject("bad_header", `the extended header at byte ${at} is ${size} bytes long`);
    this.#meta = { flag, chunks: [], size, at };
    this.#remaining = size;
    this.#padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.#finishMeta();
  }

  #finishMeta(): void {
    const meta = this.#meta;
    if (!meta) return;
    this.#meta = undefined;
    const body = Buffer.concat(meta.chunks, meta.size);
    const at = meta.at;
    if (meta.flag === 0x78) {
      this.#pending.pax = this.#paxRecords(body, at);
      return;
    }
    const end = body.indexOf(0);
    const value = this.#decode(end === -1 ? body : body.subarray(0, end), at);
    if (meta.flag === 0x4c) this.#pending.longName = value;
    else this.#pending.longLink = value;
  }

  /** `<length> <key>=<value>\n` records, each checked strictly (tar-stream checks none of this). */
  #paxRecords(body: Buffer, at: number): Map<string, string> {
    const records = new Map<string, string>();
    let unknown: string | undefined;
    let p = 0;
    while (p < body.length) {
      const space = body.indexOf(0x20, p);
      const lengthText = space === -1 ? "" : body.toString("latin1", p, space);
      const length = /^[1-9][0-9]{0,6}$/.test(lengthText) ? Number(lengthText) : NaN;
      if (!(length > 0) || p + length > body.length || body[p + length - 1] !== 0x0a) {
        this.#reject("bad_header", `the PAX header at byte ${at} has a malformed record`);
      }
      const record = this.#decode(body.subarray(space + 1, p + length - 1), at);
      const eq = record.indexOf("=");
      if (eq <= 0) this.#reject("bad_header", `the PAX header at byte ${at} has a record without a key`);
      const key = record.slice(0, eq);
      const value = record.slice(eq + 1);
      if (key.startsWith("GNU.sparse.")) {
        this.#reject(
          "gnu_sparse",
          `a PAX record ${JSON.stringify(key)} at byte ${at}: sparse files are not accepted (Go applies it, tar-stream does not)`,
        );
      }
      const known =
        (this.#policy.kind === "outer" ? OUTER_PAX_KEYS : LAYER_PAX_KEYS).has(key) ||
        (this.#policy.kind === "layer" && key.startsWith(XATTR_PREFIX));
      if (!known) unknown ??= key;
      if (records.has(key))
        this.#reject("ambiguous_header", `the PAX header at byte ${at} sets ${key} twice`);
      if (value === "" && (key === "path" || key === "linkpath" || key === "size")) {
        // An empty value means "use the header's field" to Go, and nothing at all to tar-stream.
        this.#reject("ambiguous_header", `the PAX header at byte ${at} sets an empty ${key}`);
      }
      records.set(key, value);
      p += length;
    }
    // After the loop: a sparse record anywhere in the header is the more telling refusal.
    if (unknown !== undefined) {
      this.#reject(
        "pax_key",
        `the PAX record ${JSON.stringify(unknown.slice(0, 60))} at byte ${at} is not one we accept`,
      );
    }
    return records;
  }

  #text(block: Buffer, start: number, length: number, at: number): string {
    const field = block.subarray(start, start + length);
    const end = field.indexOf(0);
    return this.#decode(end === -1 ? field : field.subarray(0, end), at);
  }

  /** Names must be UTF-8: tar-stream would replace bad bytes, Go keeps them, and two names could merge. */
  #decode(bytes: Buffer, at: number): string {
    try {
      return utf8.decode(bytes);
    } catch {
      return this.#reject("bad_header", `a name in the header at byte ${at} is not UTF-8`);
    }
  }

  #number(block: Buffer, start: number, length: number, what: string, at: number): number {
    const field = block.subarray(start, start + length);
    if ((field[0] ?? 0) & 0x80) {
      // GNU base-256, for sizes past 8 GiB: positive and within 2^53 only.
      if (field[0] !== 0x80)
        this.#reject("bad_header", `the ${what} of the header at byte ${at} is out of range`);
      let value = 0;
      for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
      if (!Number.isSafeInteger(value))
        this.#reject("bad_header", `the ${what} of the header at byte ${at} is out of range`);
      return value;
    }
    const value = octal(block, start, length);
    if (value === undefined)
      this.#reject("bad_header", `the ${what} of the header at byte ${at} is not an octal number`);
    return value;
  }
}
