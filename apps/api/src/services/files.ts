import { open, readdir } from "node:fs/promises";

// File-system steps the upload store, the layer store and their sweeps share.

/** The names in a directory a sweep looks at; none when it does not exist (yet). */
export async function namesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
}

/** Flushes a file's data, or a directory's entries, to the disk. */
export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
