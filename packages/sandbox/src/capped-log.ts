/**
 * stdout and stderr of a container, interleaved in arrival order, keeping the first `capBytes` bytes.
 * A model can print without limit, so past the cap bytes are counted and dropped, never stored; the
 * stream must still be drained or the model would block on a full pipe.
 */
export class CappedLog {
  private readonly chunks: Buffer[] = [];
  private stored = 0;
  private dropped = 0;

  constructor(private readonly capBytes: number) {}

  push(data: Buffer): void {
    const room = this.capBytes - this.stored;
    if (room > 0) {
      const kept = data.length <= room ? data : data.subarray(0, room);
      this.chunks.push(Buffer.from(kept)); // a copy: do not pin the engine's (larger) chunk
      this.stored += kept.length;
    }
    this.dropped += Math.max(0, data.length - Math.max(room, 0));
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  toString(): string {
    const text = Buffer.concat(this.chunks).toString("utf8");
    if (!this.truncated) return text;
    const sep = text.endsWith("\n") || text === "" ? "" : "\n";
    return `${text}${sep}[holdout: log truncated at ${this.capBytes} bytes; ${this.dropped} more bytes not shown]\n`;
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
