import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse } from "csv-parse/sync";

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `holdout-testset-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Every file under `dir`, as relative path → sha256 of its bytes, sorted by path. */
export async function fileHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
  for (const f of files)
    out.set(
      f,
      createHash("sha256")
        .update(await readFile(join(dir, f)))
        .digest("hex"),
    );
  return out;
}

/** A labels CSV as objects keyed by header (values as strings). */
export function parseRows(csv: string): Record<string, string>[] {
  return parse<Record<string, string>>(csv, { columns: true, bom: true });
}

/** Components and size from a baseline JPEG's SOF0 header. */
export function jpegFrame(bytes: Uint8Array): { width: number; height: number; components: number } {
  for (let i = 2; i + 9 < bytes.length;) {
    if (bytes[i] !== 0xff) throw new Error(`bad JPEG marker at byte ${i}`);
    const marker = bytes[i + 1]!;
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (marker === 0xc0) {
      return {
        height: (bytes[i + 5]! << 8) | bytes[i + 6]!,
        width: (bytes[i + 7]! << 8) | bytes[i + 8]!,
        components: bytes[i + 9]!,
      };
    }
    i += 2 + length;
  }
  throw new Error("no SOF0 frame header");
}
