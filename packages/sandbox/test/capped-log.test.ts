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

  it("keeps the first bytes up to the cap and says how many were dropped", async () => {
    const log = await collect([wire], 9);
    expect(log.truncated).toBe(true);
    // "héllo\n" is 7 bytes, then "oo" of "oops\n"; 2 + 3 + 4 bytes dropped.
    expect(log.toString()).toBe("héllo\noo\n[holdout: log truncated at 9 bytes; 7 more bytes not shown]\n");
  });
});
