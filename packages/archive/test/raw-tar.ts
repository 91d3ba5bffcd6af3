/**
 * Hand-made tar blocks for tests: every field under the test's control, so forms no well-behaved
 * writer produces (GNU sparse, conflicting long names, bad PAX records) can be built.
 */
export interface RawHeader {
  name: string;
  /** The type flag character: "0", "5", "x", "L", "S", ... */
  flag?: string;
  size?: number;
  linkname?: string;
  prefix?: string;
  gnu?: boolean;
  mode?: number;
  devmajor?: number;
  devminor?: number;
  /** How `name` is written: latin1 gives raw bytes (e.g. a name that is not UTF-8). */
  nameEncoding?: BufferEncoding;
}

export function header(h: RawHeader): Buffer {
  const block = Buffer.alloc(512);
  block.write(h.name, 0, 100, h.nameEncoding ?? "utf8");
  block.write(octal(h.mode ?? 0o644, 8), 100, "latin1");
  block.write(octal(0, 8), 108, "latin1");
  block.write(octal(0, 8), 116, "latin1");
  block.write(octal(h.size ?? 0, 12), 124, "latin1");
  block.write(octal(0, 12), 136, "latin1");
  block.write(h.flag ?? "0", 156, "latin1");
  if (h.linkname) block.write(h.linkname, 157, 100, "utf8");
  block.write(h.gnu ? "ustar  \0" : "ustar\u000000", 257, "latin1");
  block.write(octal(h.devmajor ?? 0, 8), 329, "latin1");
  block.write(octal(h.devminor ?? 0, 8), 337, "latin1");
  if (h.prefix) block.write(h.prefix, 345, 155, "utf8");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** A body padded to whole blocks. */
export function body(content: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return Buffer.concat([bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)]);
}

/** A file entry: header and padded body. */
export function file(name: string, content: string | Buffer = "", extra: Partial<RawHeader> = {}): Buffer {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return Buffer.concat([header({ name, size: bytes.length, ...extra }), body(bytes)]);
}

/** PAX records `<len> key=value\n`, with the length counting itself. */
export function paxRecords(records: [string, string][]): Buffer {
  return Buffer.from(
    records
      .map(([k, v]) => {
        const rest = ` ${k}=${v}\n`;
        let len = Buffer.byteLength(rest) + 1;
        while (Buffer.byteLength(`${len}${rest}`) !== len) len = Buffer.byteLength(`${len}${rest}`);
        return `${len}${rest}`;
      })
      .join(""),
  );
}

export function pax(records: [string, string][]): Buffer {
  const bytes = paxRecords(records);
  return Buffer.concat([header({ name: "PaxHeader", flag: "x", size: bytes.length }), body(bytes)]);
}

export function gnuLong(flag: "L" | "K", value: string): Buffer {
  const bytes = Buffer.from(`${value}\0`);
  return Buffer.concat([header({ name: "././@LongLink", flag, size: bytes.length, gnu: true }), body(bytes)]);
}

export const END = Buffer.alloc(1024);

export function tar(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, END]);
}
