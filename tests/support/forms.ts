import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { tarOf } from "./crafted-images.ts";
import { startStack, type Stack } from "./stack.ts";

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

/** A stack with small upload limits, a team of it, a scratch directory and a minimal image tarball. */
export interface UploadStack {
  stack: Stack;
  token: string;
  teamId: string;
  tmp: string;
  tarball: Blob;
  close(): Promise<void>;
}

/** The set-up of the upload tests: 1 MiB uploads, bundles of at most 64 KiB and 50 files. */
export async function startUploadStack(): Promise<UploadStack> {
  const stack = await startStack({
    maxUploadBytes: 1024 * 1024,
    bundleLimits: { maxBytes: 64 * 1024, maxFiles: 50 },
  });
  const { token, id: teamId } = await stack.createTeam();
  const tmp = await mkdtemp(path.join(os.tmpdir(), "holdout-uploads-"));
  const tarball = new Blob([await bundleTar([{ name: "manifest.json", body: "[]" }])]);
  return {
    stack,
    token,
    teamId,
    tmp,
    tarball,
    async close() {
      await stack.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
