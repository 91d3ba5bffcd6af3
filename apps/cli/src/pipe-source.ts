import type { Readable } from "node:stream";

/** What tus-js-client asks of an input: slices by absolute offset (see its FileSource). */
export interface SliceSource {
  size: number | null;
  slice(start: number, end: number): Promise<{ value: Buffer & { size?: number }; done: boolean }>;
  close(): void;
}

/**
 * A pipe (docker save's stdout, a tar being packed) as tus slices. A pipe cannot be rewound, so the
 * bytes from the start of the last slice asked for are kept in memory: after a broken connection the
 * upload resumes from the server's offset if that offset lies within this window (it does: the
 * server holds at least everything before the slice it failed on). The window is one chunk, plus
 * one read of the pipe.
 */
export class PipeSource implements SliceSource {
  readonly size = null;
  readonly #source: Readable;
  readonly #reader: AsyncIterator<Buffer>;
  /** Bytes kept, starting at stream offset #windowStart. */
  #window: Buffer[] = [];
  #windowBytes = 0;
  #windowStart = 0;
  #ended = false;

  constructor(stream: Readable) {
    this.#source = stream;
    this.#reader = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async slice(start: number, end: number) {
    if (start < this.#windowStart) {
      throw new Error(
        `cannot resume at byte ${start}: a piped upload keeps only the bytes from ${this.#windowStart} (use --tarball FILE to resume from anywhere)`,
      );
    }
    this.#drop(start - this.#windowStart);
    const want = end - start;
    while (this.#windowBytes < want && !this.#ended) {
      const next = await this.#reader.next();
      if (next.done) this.#ended = true;
      else {
        const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
        this.#window.push(chunk);
        this.#windowBytes += chunk.length;
      }
    }
    const joined = Buffer.concat(this.#window, this.#windowBytes);
    this.#window = [joined];
    const value: Buffer & { size?: number } = joined.subarray(0, Math.min(want, joined.length));
    value.size = value.length;
    return { value, done: this.#ended && this.#windowBytes <= want };
  }

  #drop(bytes: number) {
    if (bytes <= 0) return;
    if (bytes > this.#windowBytes) {
      throw new Error(`cannot skip to byte ${this.#windowStart + bytes}: those bytes were never read`);
    }
    const joined = Buffer.concat(this.#window, this.#windowBytes).subarray(bytes);
    this.#window = [joined];
    this.#windowBytes = joined.length;
    this.#windowStart += bytes;
  }

  close() {
    this.#source.destroy();
  }
}
