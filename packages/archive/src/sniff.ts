/** Archive and compression formats told apart by their first bytes, never by a file name. */
export type ArchiveFormat = "gzip" | "tar" | "zip" | "xz" | "zstd" | "bzip2";

const MAGIC: [Exclude<ArchiveFormat, "tar">, Buffer][] = [
  ["gzip", Buffer.from([0x1f, 0x8b])],
  ["zip", Buffer.from("PK\x03\x04", "latin1")], // a zip's first local file header
  ["xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ["zstd", Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ["bzip2", Buffer.from("BZh", "latin1")],
];

/** Bytes a tar's first header needs before its magic (`ustar` at 257) can be read. */
export const TAR_MAGIC_END = 262;

/**
 * The format of a stream from its leading bytes, among `accepted`: `undecided` while one of them
 * could still match with more bytes, `unknown` once none can. POSIX and GNU tar carry "ustar" at
 * offset 257 (`docker save` writes it; old V7 archives without it are not accepted).
 */
export function sniffFormat(
  head: Buffer,
  accepted: readonly ArchiveFormat[] = ["gzip", "tar", "zip", "xz", "zstd", "bzip2"],
): ArchiveFormat | "undecided" | "unknown" {
  let couldStill = false;
  for (const [format, magic] of MAGIC) {
    if (!accepted.includes(format)) continue;
    const n = Math.min(head.length, magic.length);
    if (head.subarray(0, n).equals(magic.subarray(0, n))) {
      if (n === magic.length) return format;
      couldStill = true;
    }
  }
  if (accepted.includes("tar")) {
    if (head.length < TAR_MAGIC_END) return "undecided";
    if (head.toString("latin1", 257, 262) === "ustar") return "tar";
  }
  return couldStill ? "undecided" : "unknown";
}
