import { chmod, copyFile, link, mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { SandboxRejection } from "./errors.ts";

export interface WorkspaceLayer {
  /** A directory whose tree is laid into the workspace. */
  dir: string;
  /** Who put it there, for the refusal when a later layer clashes with it ("the test set"). */
  owner: string;
}

export interface AssembledWorkspace {
  dir: string;
  files: number;
  /** Files that had to be copied because a hard link was impossible (another filesystem). */
  copied: number;
}

/**
 * Builds one directory from several trees, for a run's read-only /workspace: a bind mount cannot be
 * nested inside another read-only one, so a code bundle and the test set's public files are laid
 * side by side here instead. Files are hard links when source and target share a filesystem (no
 * bytes copied; the sources are never written through them since the container mounts this
 * read-only), copies otherwise. Only regular files and directories are taken; a later layer may not
 * replace anything an earlier one holds (a bundle's own `test_image_paths.csv` would otherwise
 * change the model's input): that is a SandboxRejection naming the path. `into` must not exist; on
 * any failure it is removed again.
 */
export async function assembleWorkspace(into: string, layers: WorkspaceLayer[]): Promise<AssembledWorkspace> {
  await mkdir(into, { mode: 0o755 });
  await chmod(into, 0o755); // whatever the umask: the model's user must traverse it
  const result: AssembledWorkspace = { dir: into, files: 0, copied: 0 };
  const owners = new Map<string, string>();
  try {
    for (const layer of layers) await layTree(layer, layer.dir, into, "", owners, result);
    return result;
  } catch (err) {
    await rm(into, { recursive: true, force: true });
    throw err;
  }
}

async function layTree(
  layer: WorkspaceLayer,
  from: string,
  to: string,
  rel: string,
  owners: Map<string, string>,
  result: AssembledWorkspace,
): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    const holder = owners.get(relPath);
    if (entry.isDirectory()) {
      if (holder !== undefined && holder !== "dir") throw clash(layer, relPath, holder);
      if (holder === undefined) {
        await mkdir(target, { mode: 0o755 });
        await chmod(target, 0o755);
        owners.set(relPath, "dir");
      }
      await layTree(layer, source, target, relPath, owners, result);
    } else if (entry.isFile()) {
      if (holder !== undefined) throw clash(layer, relPath, holder);
      owners.set(relPath, layer.owner);
      await placeFile(source, target, result);
      result.files++;
    } else {
      throw new SandboxRejection(
        `${layer.owner} holds ${relPath}, which is neither a file nor a directory; only those are run`,
      );
    }
  }
}

function clash(layer: WorkspaceLayer, relPath: string, holder: string): SandboxRejection {
  const by = holder === "dir" ? "a directory" : holder;
  return new SandboxRejection(
    `${layer.owner} holds ${relPath}, but /workspace/${relPath} is already taken by ${by}; rename it`,
  );
}

async function placeFile(source: string, target: string, result: AssembledWorkspace): Promise<void> {
  try {
    await link(source, target);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EXDEV: another filesystem; EPERM: the kernel's protected_hardlinks for files we do not own.
    if (code !== "EXDEV" && code !== "EPERM") throw err;
  }
  await copyFile(source, target);
  await chmod(target, (await stat(source)).mode & 0o755);
  result.copied++;
}

/** Removes an assembled workspace; one that is already gone is fine. */
export async function removeWorkspace(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
