import { posix } from "node:path";
import { ArchiveRejection } from "./rejection.ts";

/** Longest entry name accepted, and deepest nesting: far past real images and bundles. */
export const MAX_PATH_BYTES = 4096;
export const MAX_DEPTH = 128;

const show = (name: string): string => JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);

/**
 * An entry name as every reader resolves it, or a rejection. Accepted: relative names of plain
 * components (`./` prefixes, `//` and a trailing `/` are spelling, dropped). Refused: absolute
 * names, `..` anywhere (even one that stays inside: a reader that resolves it and one that does
 * not would put the entry in different places), NUL, backslashes and drive letters (Windows
 * readers split on them), overlong or over-deep names. Returns the components ([] for `.`).
 */
export function entryParts(name: string, where = "the archive"): string[] {
  if (name.length > MAX_PATH_BYTES || name.includes("\0") || name.includes("\\") || /^[A-Za-z]:/.test(name)) {
    throw new ArchiveRejection("unsafe_path", `${where}: entry ${show(name)} is not a plain relative path`);
  }
  if (name.startsWith("/")) {
    throw new ArchiveRejection("unsafe_path", `${where}: entry ${show(name)} is absolute, outside ${where}`);
  }
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new ArchiveRejection(
      "unsafe_path",
      `${where}: entry ${show(name)} has a ".." component (it could point outside ${where})`,
    );
  }
  if (parts.length > MAX_DEPTH) {
    throw new ArchiveRejection("unsafe_path", `${where}: entry ${show(name)} is nested too deep`);
  }
  return parts;
}

/** The normalised name (`a/b`), "" for the archive's root itself. */
export function normalizeEntryName(name: string, where?: string): string {
  return entryParts(name, where).join("/");
}

/**
 * Whether a symbolic link at `name` (normalised) pointing at `target` resolves outside the tree it
 * sits in. Absolute targets resolve against the tree's own root when the tree is a container's
 * filesystem, so they do not escape; `..` past the root does.
 */
export function symlinkEscapes(name: string, target: string): boolean {
  if (target.startsWith("/")) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(name), target));
  return resolved === ".." || resolved.startsWith("../");
}

export { show as showName };
