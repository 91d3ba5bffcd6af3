import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { PipeSource } from "../src/pipe-source.ts";
import { formatDuration, ProgressBar } from "../src/progress.ts";

/** A pipe delivering `total` bytes (byte i = i % 251) in reads of `piece` bytes. */
function pipe(total: number, piece: number): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= total) return void this.push(null);
      const n = Math.min(piece, total - at);
      this.push(Buffer.from(Array.from({ length: n }, (_, i) => (at + i) % 251)));
      at += n;
    },
  });
}
const expected = (start: number, end: number) =>
  Buffer.from(Array.from({ length: end - start }, (_, i) => (start + i) % 251));

describe("PipeSource: a pipe as tus slices with a bounded window", () => {
  it("gives every byte once, in full chunks, and says done only with the last one", async () => {
    const src = new PipeSource(pipe(10_000, 700));
    const got: [number, boolean][] = [];
    for (let at = 0; ;) {
      const { value, done } = await src.slice(at, at + 4096);
      expect(value.equals(expected(at, at + value.length))).toBe(true);
      got.push([value.length, done]);
      at += value.length;
      if (done) break;
    }
    expect(got).toEqual([
      [4096, false],
      [4096, false],
      [1808, true],
    ]);
  });

  it("resumes anywhere inside the last slice (a broken connection), not before it", async () => {
    const src = new PipeSource(pipe(10_000, 333));
    await src.slice(0, 4096);
    const chunk = await src.slice(4096, 8192);
    // The server kept 5000 bytes before the connection broke: resume there.
    const resumed = await src.slice(5000, 9096);
    expect(resumed.value.equals(expected(5000, 9096))).toBe(true);
    expect(chunk.value.length).toBe(4096);
    await expect(src.slice(100, 4196)).rejects.toThrow(/keeps only the bytes from 5000/);
  });

  it("an empty pipe is one empty, final slice", async () => {
    const { value, done } = await new PipeSource(pipe(0, 1)).slice(0, 100);
    expect([value.length, done]).toEqual([0, true]);
  });
});

describe("progress line", () => {
  it("shows bytes, rate and ETA; plain lines when not a terminal", () => {
    let t = 0;
    const lines: string[] = [];
    const bar = new ProgressBar(
      { isTTY: false, write: (s) => lines.push(s) },
      { now: () => t, plainEveryMs: 1000 },
    );
    bar.update(0, 100 * 1024 ** 2); // nothing sent yet: nothing worth a line
    expect(lines).toEqual([]);
    t = 2000;
    bar.update(20 * 1024 ** 2, 100 * 1024 ** 2); // the first bytes: printed at once
    t = 2500;
    bar.update(25 * 1024 ** 2, 100 * 1024 ** 2); // within 1 s of the last line: not printed
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/20\.0%\s+20\.0 MiB \/ 100\.0 MiB\s+10\.0 MiB\/s\s+ETA 00:08/);
    t = 4000;
    bar.update(40 * 1024 ** 2, null);
    expect(lines[1]).toMatch(/^uploading 40\.0 MiB\s+10\.0 MiB\/s\s+elapsed 00:04/);
  });

  it("redraws one line in place on a terminal", () => {
    const out: string[] = [];
    const bar = new ProgressBar({ isTTY: true, columns: 80, write: (s) => out.push(s) });
    bar.update(1, 2);
    bar.update(2, 2);
    bar.done(2, 2);
    expect(out.every((s) => s.startsWith("\r"))).toBe(true);
    expect(out.at(-1)!.endsWith("\n")).toBe(true);
  });

  it("formats durations for people", () => {
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Infinity)).toBe("--:--");
  });
});
