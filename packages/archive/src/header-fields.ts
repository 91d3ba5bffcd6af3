// The fields of a tar header block, read as every reader reads them (or refused where readers
// could differ): the pure helpers of the raw-header check (header-check.ts).

/** A tar stream's unit: headers and bodies come in 512-byte blocks. */
export const BLOCK = 512;

export type EntryType = "file" | "directory" | "symlink" | "link" | "char-device" | "block-device" | "fifo";

/** An octal field as every reader parses it, or undefined when readers could differ on it. */
export function octal(block: Buffer, start: number, length: number): number | undefined {
  const text = block.toString("latin1", start, start + length);
  const match = /^ *([0-7]*)[ \0]*$/.exec(text);
  if (!match) return undefined;
  return match[1] === "" ? 0 : parseInt(match[1] ?? "0", 8);
}

/** The header's checksum as the format defines it: every byte summed, its own field counted as spaces. */
export function checksum(block: Buffer): number {
  let sum = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < BLOCK; i++) {
    if (i < 148 || i >= 156) sum += block[i] ?? 0;
  }
  return sum;
}

/** An all-zero block: the end-of-archive marker. */
export function isZero(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** What a typeflag makes of an entry; undefined for the forms we refuse. */
export function entryType(flag: number): EntryType | undefined {
  switch (flag) {
    case 0:
    case 0x30:
      return "file";
    case 0x31:
      return "link";
    case 0x32:
      return "symlink";
    case 0x33:
      return "char-device";
    case 0x34:
      return "block-device";
    case 0x35:
      return "directory";
    case 0x36:
      return "fifo";
    default:
      return undefined;
  }
}
