import { lstat, readdir, readlink } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { OBSERVATIONS } from "./labels.ts";

// A model sees every byte under public/: names that spell a finding, or words that announce labels, are
// a label leak even when the contents are harmless. Compared with case and separators removed.
const TELLTALE = [...OBSERVATIONS, "effusion", "opacity", "label", "groundtruth", "positive", "negative"].map(
  squash,
);

function squash(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

// A set's own label columns are telltales too (a mean-auc set names other findings), unless so short
// that they would match inside ordinary names.
const MIN_COLUMN_TELLTALE = 4;

/** The observation, label column (`columns`) or label word a file or folder name spells, if any. */
export function telltaleIn(name: string, columns: readonly string[] = []): string | undefined {
  const s = squash(name);
  const words = [...TELLTALE, ...columns.map(squash).filter((c) => c.length >= MIN_COLUMN_TELLTALE)];
  return words.find((t) => s.includes(t));
}

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * What in `publicRoot` could let a model learn a label: names holding an observation or one of the
 * set's label columns, symlinks that leave public/ (or are absolute, so mean something else inside
 * the container), special files, and files that are neither the image list nor a listed image.
 * `listed` holds paths relative to public/.
 */
export async function publicLeaks(
  publicRoot: string,
  listed: Set<string>,
  imageList: string,
  columns: readonly string[] = [],
): Promise<string[]> {
  const problems: string[] = [];
  const unlisted: string[] = [];
  // Sorted, so the report reads the same on every filesystem.
  const entries = (await readdir(publicRoot, { recursive: true, withFileTypes: true }))
    .map((e) => ({ e, full: join(e.parentPath, e.name) }))
    .sort((a, b) => (a.full < b.full ? -1 : a.full > b.full ? 1 : 0));
  for (const { e, full } of entries) {
    const rel = relative(publicRoot, full);
    const word = telltaleIn(e.name, columns);
    if (word !== undefined) problems.push(`public/${rel}: name reveals a label (${JSON.stringify(word)})`);
    if (e.isSymbolicLink()) {
      const target = await readlink(full);
      if (isAbsolute(target)) problems.push(`public/${rel}: absolute symlink (to ${target})`);
      else if (!inside(resolve(publicRoot), resolve(dirname(full), target))) {
        problems.push(`public/${rel}: symlink leaves public/ (to ${target})`);
      }
    } else if (e.isFile()) {
      if (rel !== imageList && !listed.has(rel.split(sep).join("/"))) unlisted.push(rel);
    } else if (!e.isDirectory()) {
      problems.push(`public/${rel}: not a regular file or folder`);
    }
  }
  // Stray files (a labels CSV left behind, notes) reach the model too; list a few, count the rest.
  for (const rel of unlisted.slice(0, 10)) problems.push(`public/${rel}: file not in the image list`);
  if (unlisted.length > 10)
    problems.push(`public/: … and ${unlisted.length - 10} more files not in the image list`);
  return problems;
}

/** Problems with the permissions of `private/` (labels must not be readable by other users). */
export async function privateModeProblems(privateDir: string): Promise<string[]> {
  let mode: number;
  try {
    const st = await lstat(privateDir);
    if (st.isSymbolicLink()) return ["private/ is a symlink; make it a real folder with mode 0700"];
    mode = st.mode & 0o777;
  } catch {
    return []; // a missing private/ is reported through its missing files
  }
  if ((mode & 0o007) !== 0) {
    return [`private/ is accessible to other users (mode 0${mode.toString(8)}); run chmod 700 on it`];
  }
  return [];
}
