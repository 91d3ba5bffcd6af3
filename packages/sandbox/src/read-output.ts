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

/** One entry of a directory the model wrote, as its archive's header describes it (content unread). */
export interface OutEntry {
  /** Relative to the directory; `/`-separated. */
  name: string;
  type: "file" | "directory" | "symlink" | "other";
  size: number;
}

/** The first entries of a directory, in the engine's order, and whether there were more. */
export interface OutListing {
  entries: OutEntry[];
  more: boolean;
}

/**
 * What a directory of the container holds, from the archive API's headers: at most `maxEntries`
 * entries (the directory itself not counted), reading no further than the next header past them.
 * Symlinks are listed as symlinks, never followed. A missing directory lists as empty.
 */
export async function listDirectory(
  container: Docker.Container,
  dir: string,
  maxEntries: number,
): Promise<OutListing> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path: dir });
  } catch (err) {
    if (isNotFound(err)) return { entries: [], more: false };
    throw new Error(`could not list ${dir} in the sandbox`, { cause: err });
  }
  const extract = tarExtract();
  archive.pipe(extract);
  archive.on("error", (err: Error) => extract.destroy(err));
  const entries: OutEntry[] = [];
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      // The archive's first entry is the directory itself (`out/`); the rest are below it.
      const relative = name.split("/").slice(1).join("/").replace(/\/$/, "");
      entry.resume();
      if (relative === "") continue;
      if (entries.length === maxEntries) return { entries, more: true };
      entries.push({ name: relative, type: entryType(type), size: size ?? 0 });
    }
    return { entries, more: false };
  } finally {
    extract.destroy();
    if ("destroy" in archive && typeof archive.destroy === "function") (archive.destroy as () => void)();
  }
}

function entryType(type: string | null | undefined): OutEntry["type"] {
  return type === "file" || type === "directory" || type === "symlink" ? type : "other";
}

/** Longest name shown; a model chooses its file names, and a message is not the place for essays. */
const NAME_CHARS = 80;

/**
 * The listing in a sentence for the model's authors, by name: `/out holds: "preds.csv" (1204 bytes), …`. Names
 * are the model's own text: control, format and separator characters become `?`, and long ones are cut.
 */
export function describeListing(dir: string, listing: OutListing): string {
  if (listing.entries.length === 0) return `${dir} is empty`;
  const byName = [...listing.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const shown = byName.map((e) => {
    const chars = [...e.name.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu, "?")];
    const name = chars.length > NAME_CHARS ? `${chars.slice(0, NAME_CHARS).join("")}…` : chars.join("");
    const what =
      e.type === "file" ? `${e.size} bytes` : e.type === "other" ? "not a regular file" : `a ${e.type}`;
    return `"${name}" (${what})`;
  });
  const more = listing.more ? `, and more (only the first ${listing.entries.length} are listed)` : "";
  return `${dir} holds: ${shown.join(", ")}${more}`;
}
