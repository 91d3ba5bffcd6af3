import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { PassThrough, type Readable } from "node:stream";
import { create as createTar } from "tar";
import { UsageError } from "./usage-error.ts";

/** What the submit command sends: a stream, its size if known, and a way to learn it failed. */
export interface UploadSource {
  kind: "image" | "bundle";
  stream: Readable;
  /** Known for a file on disk; null for a pipe (tus "deferred length"). */
  size: number | null;
  /** Whether the server can resume anywhere (a file) or only within the in-memory window (a pipe). */
  seekable: boolean;
  /** Resolves when the producer finished well; rejects with what went wrong (docker's message). */
  finished: Promise<void>;
  describe: string;
}

/**
 * `docker save NAME` streamed straight from docker's stdout: no temporary file. The tarball's size
 * is unknown until docker is done, so it travels with a deferred length.
 */
export function dockerSave(image: string, dockerBin = "docker"): UploadSource {
  const child = spawn(dockerBin, ["save", image], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const finished = new Promise<void>((resolve, reject) => {
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new UsageError(`cannot run \`${dockerBin}\`: is Docker installed and on PATH?`)
          : err,
      ),
    );
    child.once("close", (code) => {
      if (code === 0) resolve();
      else
        reject(
          new UsageError(
            `\`docker save ${image}\` failed: ${stderr.trim().split("\n").pop() ?? `exit ${code}`}`,
          ),
        );
    });
  });
  finished.catch(() => child.stdout.destroy());
  return {
    kind: "image",
    stream: child.stdout,
    size: null,
    seekable: false,
    finished,
    describe: `docker save ${image}`,
  };
}

/** A `docker save` tarball already on disk: sent with its size, resumable from any offset. */
export async function tarballFile(file: string): Promise<UploadSource> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new UsageError(`--tarball ${file}: no such file`);
  return {
    kind: "image",
    stream: createReadStream(file),
    size: info.size,
    seekable: true,
    finished: Promise.resolve(),
    describe: file,
  };
}

/** A code directory packed as tar.gz on the fly (regular files and directories only). */
export async function bundleDir(dir: string): Promise<UploadSource> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new UsageError(`--bundle ${dir}: not a directory`);
  const packer = createTar(
    {
      gzip: true,
      cwd: dir,
      portable: true,
      // The server refuses links; leave them (and sockets, devices) out rather than fail there.
      filter: (_path, entry) =>
        !("isSymbolicLink" in entry) || (!entry.isSymbolicLink() && (entry.isFile() || entry.isDirectory())),
    },
    ["."],
  );
  // node-tar streams are minipass streams: hand on a Node stream, with the packer's errors.
  const stream = packer.pipe(new PassThrough());
  packer.on("error", (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))));
  const finished = new Promise<void>((resolve, reject) => {
    stream.once("end", resolve);
    stream.once("error", reject);
  });
  return { kind: "bundle", stream, size: null, seekable: false, finished, describe: `bundle of ${dir}` };
}
