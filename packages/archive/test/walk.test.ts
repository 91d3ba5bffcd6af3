import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { pack as tarPack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveRejection, isGzipFile, walkTar, type WalkLimits } from "../src/index.ts";
import { file, header, pax, tar } from "./raw-tar.ts";

// The bounded walk against a second, independent reader: GNU tar, run on the same bytes.

const run = promisify(execFile);
const LIMITS: WalkLimits = { maxTarBytes: 64 * 1024 ** 2, maxCompressionRatio: 100, maxEntries: 1000 };
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "holdout-archive-walk-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function save(bytes: Buffer): Promise<string> {
  const path = join(dir, `${n++}.tar`);
  await writeFile(path, bytes);
  return path;
}

/** What our walk reads: each entry's name, or the refusal. */
async function ours(path: string, limits = LIMITS, compressed = false): Promise<string[] | ArchiveRejection> {
  const names: string[] = [];
  try {
    await walkTar(
      path,
      { compressed, limits, policy: { where: "the test", kind: "layer" } },
      async (entry, body) => {
        names.push(entry.name);
        for await (const chunk of body) void chunk;
      },
    );
    return names;
  } catch (err) {
    if (err instanceof ArchiveRejection) return err;
    throw err;
  }
}

/** What GNU tar lists, or null when it refuses the archive. */
async function gnu(path: string): Promise<string[] | null> {
  try {
    const { stdout } = await run("tar", ["--quoting-style=literal", "-tf", path], {
      env: { LC_ALL: "C.UTF-8" },
    });
    return stdout.split("\n").filter((l) => l !== "");
  } catch {
    return null;
  }
}

async function packed(members: { name: string; body: string }[]): Promise<Buffer> {
  const p = tarPack();
  for (const m of members) p.entry({ name: m.name }, m.body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const component = fc.stringMatching(/^[A-Za-z0-9_.é中-]{1,40}$/).filter((c) => c !== "." && c !== "..");
const member = fc.record({
  name: fc.array(component, { minLength: 1, maxLength: 6 }).map((parts) => parts.join("/")),
  body: fc.string({ maxLength: 700 }),
});

describe("walkTar", () => {
  it("reads the same names as GNU tar, in the same order, whatever the names and their order (PAX and prefix forms included)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(member, { minLength: 1, maxLength: 12, selector: (m) => m.name }),
        async (members) => {
          const path = await save(await packed(members));
          const read = await ours(path);
          expect(read).toEqual(members.map((m) => m.name));
          expect(await gnu(path)).toEqual(read);
        },
      ),
      { numRuns: 60, seed: 17 },
    );
  });

  it("never accepts a damaged header that GNU tar reads differently", async () => {
    const base = await packed([
      { name: "a/first.txt", body: "one" },
      { name: `${"long/".repeat(30)}second.txt`, body: "two" },
      { name: "third", body: "3".repeat(600) },
    ]);
    const headerStarts = [0, 512, 1024, 1536, 2048, 3072];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...headerStarts),
        fc.integer({ min: 0, max: 511 }),
        fc.integer({ min: 0, max: 255 }),
        async (start, offset, value) => {
          const bytes = Buffer.from(base);
          bytes[start + offset] = value;
          const path = await save(bytes);
          const read = await ours(path);
          if (read instanceof ArchiveRejection) return;
          expect(await gnu(path)).toEqual(read);
        },
      ),
      { numRuns: 150, seed: 1717 },
    );
  });

  it("refuses an entry the two readers disagree on: a PAX GNU.sparse.name rename", async () => {
    const path = await save(tar(pax([["GNU.sparse.name", "manifest.json"]]), file("harmless.txt", "x")));
    const read = await ours(path);
    expect(read).toBeInstanceOf(ArchiveRejection);
    expect((read as ArchiveRejection).code).toBe("gnu_sparse");
  });

  it("stops a gzip bomb by its ratio, and an oversized tar by its size, while streaming", async () => {
    const zeros = tar(file("big", Buffer.alloc(80 * 1024 ** 2)));
    const bomb = join(dir, "bomb.tar.gz");
    await writeFile(bomb, gzipSync(zeros));
    expect(await isGzipFile(bomb)).toBe(true);
    const byRatio = await ours(bomb, { ...LIMITS, maxTarBytes: 1024 ** 3 }, true);
    expect(byRatio).toMatchObject({ code: "compression_ratio" });
    const bySize = await ours(bomb, { ...LIMITS, maxCompressionRatio: 1e9 }, true);
    expect(bySize).toMatchObject({ code: "too_large", sentence: /unpacks to more than 67108864 bytes/ });
  });

  it("counts entries against the limit", async () => {
    const path = await save(tar(...Array.from({ length: 11 }, (_, i) => file(`f${i}`))));
    expect(await ours(path, { ...LIMITS, maxEntries: 10 })).toMatchObject({
      code: "too_many_entries",
      sentence: "the test holds more than 10 entries",
    });
  });

  it("refuses xz and zstd by their magic, saying so", async () => {
    const xz = await save(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]));
    await expect(isGzipFile(xz, "the upload")).rejects.toMatchObject({
      code: "unsupported_compression",
      sentence: "the upload is xz-compressed; send it plain or gzip-compressed",
    });
  });

  it("refuses a header that only a lenient reader would take: a directory with a size", async () => {
    const path = await save(tar(header({ name: "d/", flag: "5", size: 512 }), Buffer.alloc(512)));
    expect(await ours(path)).toMatchObject({ code: "ambiguous_header" });
  });
});
