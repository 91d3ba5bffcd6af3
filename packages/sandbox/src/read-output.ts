import type Docker from "dockerode";
import { extract as tarExtract } from "tar-stream";
import { isNotFound } from "./docker.ts";

export type OutputFile = { found: true; data: Buffer } | { found: false; message: string };

/**
 * Copies one file out of a container with the archive API. The engine resolves symlinks in the
 * directories of `path` but never in its last component: a symlink arrives as a symlink entry, and we
 * refuse it rather than follow it (it could name a file of the host's or the keeper's). Only a regular
 * file of at most `maxBytes` is accepted; the read stops there whatever the archive claims.
 */
export async function readRegularFile(
  container: Docker.Container,
  path: string,
  maxBytes: number,
): Promise<OutputFile> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path });
  } catch (err) {
    if (isNotFound(err)) return { found: false, message: `the model did not write ${path}` };
    throw new Error(`could not read ${path} from the sandbox`, { cause: err });
  }
  const extract = tarExtract();
  archive.pipe(extract);
  archive.on("error", (err: Error) => extract.destroy(err));
  try {
    for await (const entry of extract) {
      const { type, size } = entry.header;
      if (type !== "file") {
        return { found: false, message: `${path} is a ${type}, not a regular file` };
      }
      if (size > maxBytes) return { found: false, message: `${path} is larger than ${maxBytes} bytes` };
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) return { found: false, message: `${path} is larger than ${maxBytes} bytes` };
        chunks.push(chunk);
      }
      return { found: true, data: Buffer.concat(chunks) };
    }
    return { found: false, message: `the model did not write ${path}` };
  } finally {
    // We only ever want the first entry; do not let the engine stream the rest.
    extract.destroy();
    if ("destroy" in archive && typeof archive.destroy === "function") (archive.destroy as () => void)();
  }
}
