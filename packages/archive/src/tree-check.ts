import { TarHeaderCheck, type EntryHead } from "./header-check.ts";
import { entryParts, showName, symlinkEscapes } from "./paths.ts";
import { ArchiveRejection } from "./rejection.ts";

/**
 * The contents check of a file-system tar (an image layer), fed its raw bytes as they stream by:
 * the header check (`layer` policy), then per entry: no device nodes or fifos, no absolute or
 * climbing names, no symlink whose target climbs out of the tree, no hard link to a path outside
 * it, and no entry that would be written through a symlink the same tar created earlier (`a -> /etc`
 * then `a/passwd`), hard-link targets included.
 */
export class TreeCheck {
  readonly #headers: TarHeaderCheck;
  readonly #where: string;
  /** Normalised paths of the symlinks created so far, and not since replaced. */
  readonly #symlinks = new Set<string>();

  constructor(where: string) {
    this.#where = where;
    this.#headers = new TarHeaderCheck({ where, kind: "layer" }, (entry) => this.#entry(entry));
  }

  push(chunk: Buffer): void {
    this.#headers.push(chunk);
  }

  end(): void {
    this.#headers.end();
  }

  get entries(): number {
    return this.#headers.entries;
  }

  #entry(entry: EntryHead): void {
    const where = this.#where;
    const name = entryParts(entry.name, where).join("/");
    if (entry.type === "char-device" || entry.type === "block-device" || entry.type === "fifo") {
      if (!isStandardDevice(name, entry)) {
        throw new ArchiveRejection(
          "entry_type",
          `${where}: ${showName(entry.name)} is a ${entry.type}; images may not carry device nodes or fifos`,
        );
      }
    }
    this.#notThroughSymlink(name, entry.name);
    if (entry.type === "symlink") {
      if (entry.linkname === "" || symlinkEscapes(name, entry.linkname)) {
        throw new ArchiveRejection(
          "link_escape",
          `${where}: the symlink ${showName(entry.name)} points outside the image (to ${showName(entry.linkname)})`,
        );
      }
      this.#symlinks.add(name);
      return;
    }
    if (this.#symlinks.size > 0) this.#symlinks.delete(name);
    if (entry.type === "link") {
      let target: string;
      try {
        target = entryParts(entry.linkname, where).join("/");
      } catch {
        throw new ArchiveRejection(
          "link_escape",
          `${where}: the hard link ${showName(entry.name)} points outside the image (to ${showName(entry.linkname)})`,
        );
      }
      if (target === "")
        throw new ArchiveRejection(
          "link_escape",
          `${where}: the hard link ${showName(entry.name)} has no target`,
        );
      this.#notThroughSymlink(target, entry.linkname);
      if (this.#symlinks.has(target)) {
        throw new ArchiveRejection(
          "write_through_symlink",
          `${where}: the hard link ${showName(entry.name)} links to the symlink ${showName(entry.linkname)}`,
        );
      }
    }
  }

  /** Refuses `name` when one of its parent directories is a symlink this tar created. */
  #notThroughSymlink(name: string, shown: string): void {
    if (this.#symlinks.size === 0) return;
    for (let slash = name.indexOf("/"); slash !== -1; slash = name.indexOf("/", slash + 1)) {
      const parent = name.slice(0, slash);
      if (this.#symlinks.has(parent)) {
        throw new ArchiveRejection(
          "write_through_symlink",
          `${this.#where}: ${showName(shown)} would be written through the symlink ${showName(parent)} created earlier in the same layer`,
        );
      }
    }
  }
}

/**
 * The device nodes every container gets from the engine anyway, in `dev/` (which the engine covers
 * with its own tmpfs at run time): root file systems made by debootstrap carry them, and refusing
 * them would refuse every image built on one. Any other device node or fifo, anywhere, is refused.
 */
const STANDARD_DEVICES = new Map([
  ["dev/null", "1:3"],
  ["dev/zero", "1:5"],
  ["dev/full", "1:7"],
  ["dev/random", "1:8"],
  ["dev/urandom", "1:9"],
  ["dev/tty", "5:0"],
  ["dev/console", "5:1"],
  ["dev/ptmx", "5:2"],
]);

function isStandardDevice(name: string, entry: EntryHead): boolean {
  return entry.type === "char-device" && STANDARD_DEVICES.get(name) === `${entry.devmajor}:${entry.devminor}`;
}
