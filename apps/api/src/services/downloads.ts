import { constants } from "node:fs";
import { open, readdir, type FileHandle } from "node:fs/promises";
import path from "node:path";

// Files the organizers hand out to teams from the server itself, such as the base image their
// Dockerfiles start from (`docker save holdout/base:bookworm | gzip`), for teams that reach no
// container registry: whatever regular file they place in `<HOLDOUT_DATA_DIR>/downloads/`, by a
// plain name. Nothing else of the data directory is reachable: no other directory, no symlink
// (it could name the test set), no hidden file.

export const DOWNLOADS_DIR = "downloads";

/** A plain file name: letters, digits, `.`, `_`, `-`, not starting with a dot; no path. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface DownloadFile {
  name: string;
  bytes: number;
}

function dirOf(dataDir: string): string {
  return path.join(dataDir, DOWNLOADS_DIR);
}

/** The files on offer, by name; none when the directory does not exist. */
export async function listDownloads(dataDir: string): Promise<DownloadFile[]> {
  let entries;
  try {
    entries = await readdir(dirOf(dataDir), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new Error("could not list the downloads directory", { cause: err });
  }
  const files: DownloadFile[] = [];
  // isFile() is false for a symlink: the entry's own type, never its target's.
  for (const entry of entries.filter((e) => e.isFile() && NAME.test(e.name))) {
    const opened = await openDownload(dataDir, entry.name);
    if (!opened) continue; // removed meanwhile
    await opened.handle.close();
    files.push({ name: entry.name, bytes: opened.bytes });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * One file, opened without following a symlink (O_NOFOLLOW: a link swapped in after a check is
 * refused all the same) and checked to be a regular file; null when there is no such file to serve.
 * The caller closes the handle.
 */
export async function openDownload(
  dataDir: string,
  name: string,
): Promise<{ handle: FileHandle; bytes: number } | null> {
  if (!NAME.test(name)) return null;
  let handle: FileHandle;
  try {
    handle = await open(path.join(dirOf(dataDir), name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR") return null;
    throw new Error(`could not open the download ${name}`, { cause: err });
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    return null;
  }
  return { handle, bytes: stat.size };
}

/** The media type a file's name says. */
export function downloadType(name: string): string {
  if (/\.(tar\.gz|tgz|gz)$/.test(name)) return "application/gzip";
  if (name.endsWith(".tar")) return "application/x-tar";
  if (name.endsWith(".zip")) return "application/zip";
  return "application/octet-stream";
}
