/**
 * stdout and stderr of a container, interleaved in arrival order, keeping at most `capBytes` bytes: the
 * first three quarters of the cap from the start, and the last quarter from the end (a traceback at
 * the end is what a team needs most). A model can print without limit, so bytes in between are
 * counted and dropped, never stored; the stream must still be drained or the model would block.
 */
export class CappedLog {
  private readonly head: Buffer;
  private headFill = 0;
  /** A ring buffer holding the most recent bytes past the head. */
  private readonly tail: Buffer;
  private tailEnd = 0;
  private tailFill = 0;
  private total = 0;

  constructor(private readonly capBytes: number) {
    const tailBytes = Math.floor(capBytes / 4);
    this.head = Buffer.alloc(capBytes - tailBytes);
    this.tail = Buffer.alloc(tailBytes);
  }

  push(data: Buffer): void {
    this.total += data.length;
    let rest = data;
    if (this.headFill < this.head.length) {
      const n = rest.copy(this.head, this.headFill);
      this.headFill += n;
      rest = rest.subarray(n);
    }
    const size = this.tail.length;
    if (rest.length === 0 || size === 0) return;
    if (rest.length >= size) rest = rest.subarray(rest.length - size);
    // At most two copies: up to the end of the ring, then from its start.
    const first = rest.copy(this.tail, this.tailEnd);
    rest.copy(this.tail, 0, first);
    this.tailEnd = (this.tailEnd + rest.length) % size;
    this.tailFill = Math.min(size, this.tailFill + rest.length);
  }

  /** Bytes the model printed that are not kept. */
  get droppedBytes(): number {
    return this.total - this.headFill - this.tailFill;
  }

  get truncated(): boolean {
    return this.droppedBytes > 0;
  }

  toString(): string {
    const start = (this.tailEnd - this.tailFill + this.tail.length) % (this.tail.length || 1);
    const tail =
      start + this.tailFill <= this.tail.length
        ? this.tail.subarray(start, start + this.tailFill)
        : Buffer.concat([this.tail.subarray(start), this.tail.subarray(0, this.tailEnd)]);
    const head = this.head.subarray(0, this.headFill).toString("utf8");
    if (!this.truncated) return head + tail.toString("utf8");
    const sep = head.endsWith("\n") || head === "" ? "" : "\n";
    return (
      `${head}${sep}[holdout: log truncated: ${this.droppedBytes} bytes dropped here; ` +
      `the first ${this.headFill} and the last ${this.tailFill} bytes are kept]\n${tail.toString("utf8")}`
    );
  }
}

/**
 * Splits Docker's multiplexed attach stream (non-TTY): frames of an 8-byte header
 * `[stream, 0, 0, 0, size uint32 BE]` followed by `size` bytes. Headers may straddle chunk boundaries.
 * Resolves when the stream ends (the container's stdio closed).
 */
export function demultiplex(stream: NodeJS.ReadableStream, onPayload: (data: Buffer) => void): Promise<void> {
  const header = Buffer.alloc(8);
  let headerFill = 0;
  let remaining = 0;
  return new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        if (remaining === 0) {
          const n = Math.min(8 - headerFill, chunk.length - offset);
          chunk.copy(header, headerFill, offset, offset + n);
          headerFill += n;
          offset += n;
          if (headerFill === 8) {
            remaining = header.readUInt32BE(4);
            headerFill = 0;
          }
        } else {
          const n = Math.min(remaining, chunk.length - offset);
          onPayload(chunk.subarray(offset, offset + n));
          remaining -= n;
          offset += n;
        }
      }
    });
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
}
