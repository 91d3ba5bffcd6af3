/**
 * Removes from `<root>/node_modules` what `npm prune --omit=dev` removes: every package that
 * package-lock.json marks `"dev": true` (only the development tree needs it). Packages marked
 * `devOptional` stay, as with npm: the production tree needs them too (the Prisma CLI that runs
 * the migrations is one). The app image's build runs this on the checkout's node_modules, offline,
 * so the image build needs neither npm nor a registry (Debian's npm package alone adds some 300
 * packages to the build).
 *
 * Refuses a node_modules that does not match the lockfile (a `git pull` without `npm ci`): the
 * image would run other dependencies than the ones the code was written for.
 *
 *   node --import tsx scripts/prune-dev-dependencies.ts [root]
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  link?: boolean;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, LockEntry>;
}

function readLock(file: string): Record<string, LockEntry> {
  const lock = JSON.parse(readFileSync(file, "utf8")) as Lockfile;
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new Error(`${file}: not a lockfile of npm 7 or later (no "packages")`);
  }
  return lock.packages;
}

/** Where node_modules disagrees with package-lock.json; empty when it is what `npm ci` installs. */
export function lockfileMismatches(root: string): string[] {
  const wanted = readLock(path.join(root, "package-lock.json"));
  const hidden = path.join(root, "node_modules", ".package-lock.json");
  if (!existsSync(hidden)) return ["node_modules/.package-lock.json is missing"];
  const installed = readLock(hidden);
  const problems: string[] = [];
  for (const [key, entry] of Object.entries(installed)) {
    const want = wanted[key];
    if (!want) problems.push(`${key} is installed but not in package-lock.json`);
    else if (want.version !== entry.version) {
      problems.push(`${key} is ${entry.version ?? "?"}, package-lock.json wants ${want.version ?? "?"}`);
    }
  }
  for (const [key, entry] of Object.entries(wanted)) {
    const optional = entry.optional === true || entry.devOptional === true;
    if (key.startsWith("node_modules/") && !optional && !installed[key]) {
      problems.push(`${key} is in package-lock.json but not installed`);
    }
  }
  return problems;
}

/** Removes the dev-only packages and the command links they leave dangling; returns the removed. */
export function pruneDevDependencies(root: string): string[] {
  const mismatches = lockfileMismatches(root);
  if (mismatches.length > 0) {
    const shown = mismatches.slice(0, 5).join("; ");
    const more = mismatches.length > 5 ? ` (and ${mismatches.length - 5} more)` : "";
    throw new Error(`node_modules does not match package-lock.json: run npm ci. ${shown}${more}`);
  }
  const removed: string[] = [];
  for (const [key, entry] of Object.entries(readLock(path.join(root, "package-lock.json")))) {
    // Keys are paths from the root; only installed packages, never a workspace's own folder.
    if (entry.dev !== true || !key.includes("node_modules/")) continue;
    const dir = path.join(root, key);
    if (!existsSync(dir)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(key);
  }
  removeDanglingBins(path.join(root, "node_modules"));
  return removed;
}

/** `.bin` folders hold links to the packages' commands; those of removed packages now dangle. */
function removeDanglingBins(modules: string): void {
  if (!existsSync(modules)) return;
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(modules, entry.name);
    if (entry.name === ".bin") {
      for (const bin of readdirSync(dir)) {
        if (!existsSync(path.join(dir, bin))) rmSync(path.join(dir, bin), { force: true });
      }
    } else if (entry.name.startsWith("@")) {
      removeDanglingBins(dir);
    } else if (existsSync(path.join(dir, "node_modules"))) {
      removeDanglingBins(path.join(dir, "node_modules"));
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const root = path.resolve(process.argv[2] ?? ".");
  try {
    const removed = pruneDevDependencies(root);
    console.log(`removed ${removed.length} development-only packages from ${root}/node_modules`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
