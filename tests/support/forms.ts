import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { tarOf } from "./crafted-images.ts";

// What upload tests send: multipart forms, and code bundles as tar or zip, shaped as a test says.

const run = promisify(execFile);

/** A multipart form of fields and files (`[name, blob, filename]`), in the given order. */
export function formOf(parts: [string, string | Blob, string?][]): FormData {
  const fd = new FormData();
  for (const [name, value, file] of parts) {
    if (typeof value === "string") fd.append(name, value);
    else fd.append(name, value, file ?? "f");
  }
  return fd;
}

/** A bundle's tar: executable files, and symlinks (to /etc/passwd unless told). */
export const bundleTar = (entries: { name: string; body?: string; type?: "symlink"; linkname?: string }[]) =>
  tarOf(
    entries.map((e) =>
      e.type === "symlink"
        ? { name: e.name, type: "symlink" as const, linkname: e.linkname ?? "/etc/passwd" }
        : { name: e.name, mode: 0o755, body: e.body ?? "" },
    ),
  );

/** A zip made by Python's zipfile, which writes whatever names and modes it is told. */
export async function zipOf(dir: string, script: string): Promise<Buffer> {
  const out = path.join(dir, `${Math.random().toString(36).slice(2)}.zip`);
  await run("python3", [
    "-c",
    `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w')\n${script}\nz.close()`,
    out,
  ]);
  return readFile(out);
}
