import { ArchiveRejection } from "./rejection.ts";

/** Expanded bytes always allowed before the ratio applies: small archives compress well. */
export const RATIO_SLACK_BYTES = 64 * 1024 * 1024;

/**
 * Meters a decompression while it streams: the expanded bytes against a cap, and against a ratio
 * to the compressed bytes read so far (after RATIO_SLACK_BYTES), so a bomb stops after a few MiB
 * rather than after inflating everything. One meter may span several streams (every layer of an
 * image counts against the same cap).
 */
export class ExpansionMeter {
  compressed = 0;
  expanded = 0;

  constructor(
    readonly maxExpandedBytes: number,
    readonly maxRatio: number,
    /** For messages: "the archive", "the image's layers". */
    readonly what: string,
  ) {}

  /** Compressed bytes read. */
  input(n: number): void {
    this.compressed += n;
  }

  /** Expanded bytes produced; throws once a limit is passed. */
  output(n: number, ratioApplies = true): void {
    this.expanded += n;
    if (this.expanded > this.maxExpandedBytes) {
      throw new ArchiveRejection(
        "too_large",
        `${this.what} unpacks to more than ${this.maxExpandedBytes} bytes, the limit`,
      );
    }
    if (
      ratioApplies &&
      this.expanded > RATIO_SLACK_BYTES &&
      this.expanded > this.maxRatio * this.compressed
    ) {
      throw new ArchiveRejection(
        "compression_ratio",
        `${this.what} expands more than ${this.maxRatio} times when decompressed; refusing a likely gzip bomb`,
      );
    }
  }
}
