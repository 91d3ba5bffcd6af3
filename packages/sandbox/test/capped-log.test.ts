import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { CappedLog, demultiplex } from "../src/capped-log.ts";

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function collect(chunks: Buffer[], cap: number): Promise<CappedLog> {
  const log = new CappedLog(cap);
  const stream = new PassThrough();
  const done = demultiplex(stream, (data) => log.push(data));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await done;
  return log;
}

describe("demultiplex + CappedLog", () => {
  const wire = Buffer.concat([frame(1, "héllo\n"), frame(2, "oops\n"), frame(1, ""), frame(1, "bye\n")]);

  it("interleaves stdout and stderr in arrival order, whatever the chunking", async () => {
    const whole = await collect([wire], 1000);
    const byteByByte = await collect(
      [...wire].map((b) => Buffer.from([b])),
      1000,
    );
    expect(whole.toString()).toBe("héllo\noops\nbye\n");
    expect(byteByByte.toString()).toBe("héllo\noops\nbye\n");
    expect(whole.truncated).toBe(false);
  });

  it("keeps the first 3/4 and the last 1/4 of the cap and says how many bytes were dropped", async () => {
    const log = await collect([wire], 12);
    expect(log.truncated).toBe(true);
    // 16 bytes: the head keeps 9 ("héllo\noo"), the tail 3 ("ye\n"); "ps\nb" (4 bytes) is dropped.
    expect(log.toString()).toBe(
      "héllo\noo\n[holdout: log truncated: 4 bytes dropped here; the first 9 and the last 3 bytes are kept]\nye\n",
    );
    expect(log.droppedBytes).toBe(4);
  });

  it("keeps the true tail whatever the chunking, across ring wrap-arounds", async () => {
    const text = Array.from({ length: 500 }, (_, i) => `line ${i}\n`).join("");
    const chunks = [...text.matchAll(/.{1,7}/gs)].map((m) => frame(1, m[0]));
    const log = await collect(chunks, 400);
    const out = log.toString();
    expect(out.startsWith(text.slice(0, 300))).toBe(true);
    expect(out.endsWith(text.slice(-100))).toBe(true);
    expect(log.droppedBytes).toBe(Buffer.byteLength(text) - 400);
  });
});
