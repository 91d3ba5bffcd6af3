import { formatBytes } from "@holdout/contracts";

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/**
 * An upload's progress on stderr: bytes sent, rate, and (when the total is known) a bar and the
 * time left. On a terminal one line is redrawn in place; elsewhere (CI logs, pipes) a plain line is
 * printed once bytes flow, then at most every `plainEveryMs`, so logs stay short.
 */
export class ProgressBar {
  readonly #out: ProgressOutput;
  readonly #started: number;
  readonly #plainEveryMs: number;
  readonly #now: () => number;
  #lastPlain = -Infinity;
  #drawn = false;
  /** A moving window of (time, bytes) samples: the rate follows the recent speed. */
  #samples: [number, number][] = [];

  constructor(out: ProgressOutput, opts: { plainEveryMs?: number; now?: () => number } = {}) {
    this.#out = out;
    this.#now = opts.now ?? Date.now;
    this.#started = this.#now();
    this.#plainEveryMs = opts.plainEveryMs ?? 5000;
  }

  /** The line for `sent` of `total` bytes (total null: not known yet, as with a pipe). */
  line(sent: number, total: number | null): string {
    const now = this.#now();
    this.#samples.push([now, sent]);
    while (this.#samples.length > 2 && now - this.#samples[0]![0] > 10_000) this.#samples.shift();
    const [t0, b0] = this.#samples[0]!;
    const elapsed = (now - t0) / 1000;
    const rate = elapsed > 0 ? (sent - b0) / elapsed : 0;
    const rateText = `${formatBytes(rate)}/s`;
    if (total === null || total <= 0) {
      return `uploading ${formatBytes(sent)}  ${rateText}  elapsed ${formatDuration((now - this.#started) / 1000)}`;
    }
    const fraction = Math.min(1, sent / total);
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
    const eta = rate > 0 ? formatDuration((total - sent) / rate) : "--:--";
    return `${bar} ${(fraction * 100).toFixed(1).padStart(5)}%  ${formatBytes(sent)} / ${formatBytes(total)}  ${rateText}  ETA ${eta}`;
  }

  update(sent: number, total: number | null) {
    const text = this.line(sent, total);
    if (this.#out.isTTY) {
      const max = (this.#out.columns ?? 100) - 1;
      this.#out.write(`\r${text.slice(0, max).padEnd(max)}`);
      this.#drawn = true;
      return;
    }
    // A plain line says how far along; before the first byte there is nothing to say (a fast upload
    // would otherwise log only "0 B" and then its summary).
    if (sent === 0) return;
    const now = this.#now();
    if (now - this.#lastPlain >= this.#plainEveryMs) {
      this.#lastPlain = now;
      this.#out.write(`${text}\n`);
    }
  }

  /** The last line, always printed, then a line break on a terminal. */
  done(sent: number, total: number | null) {
    const text = this.line(sent, total ?? sent);
    this.#out.write(this.#out.isTTY ? `\r${text}\n` : `${text}\n`);
    this.#drawn = false;
  }

  /** Ends a redrawn line before something else is printed. */
  interrupt() {
    if (this.#drawn) this.#out.write("\n");
    this.#drawn = false;
  }
}
