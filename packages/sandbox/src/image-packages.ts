import type Docker from "dockerode";
import { DEADLINE_LABEL, isNotFound, ROLE_LABEL, SANDBOX_LABEL } from "./docker.ts";

/** One package installed in an image: a Debian package, or a Python distribution. */
export interface ImagePackage {
  source: "deb" | "python";
  name: string;
  version: string;
}

/**
 * Lists the Debian packages (dpkg's database) and the Python distributions (importlib.metadata, so
 * pip's and Debian's python3-* alike) of an image, each line `source<TAB>name<TAB>version`. A part
 * whose tool the image lacks is skipped: an image without Python lists its Debian packages only.
 */
const LIST_SCRIPT = [
  "if command -v dpkg-query >/dev/null 2>&1; then dpkg-query -W -f='deb\\t${Package}\\t${Version}\\n'; fi",
  "if command -v python3 >/dev/null 2>&1; then python3 -c '" +
    "import importlib.metadata as m\n" +
    "for d in m.distributions():\n" +
    ' n = d.metadata["Name"]\n' +
    ' if n: print("python\\t%s\\t%s" % (n, d.version))' +
    "'; fi",
].join("\n");

const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const MAX_PACKAGES = 20_000;
const LINE = /^(deb|python)\t([^\t]{1,200})\t([^\t]{0,200})$/;

export interface ListPackagesOptions {
  /** Labels the container carries besides ours (the worker's name, so its reaper finds leftovers). */
  labels?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * What a trusted image (the bundles' runtime) has installed, read by running the image's own
 * `dpkg-query` and `python3` once in a container with no network, no capabilities, a read-only root
 * and a nobody user; the container is removed whatever happens. Sorted by source, then name.
 */
export async function listImagePackages(
  docker: Docker,
  imageId: string,
  opts: ListPackagesOptions = {},
): Promise<ImagePackage[]> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const container = await docker.createContainer({
    Image: imageId,
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: [LIST_SCRIPT],
    User: "65534:65534",
    Env: ["HOME=/tmp", "LC_ALL=C"],
    Tty: true,
    NetworkDisabled: true,
    Labels: {
      ...opts.labels,
      [SANDBOX_LABEL]: "true",
      [ROLE_LABEL]: "package-list",
      // Past this the reaper of any worker may remove it (this process died while it ran).
      [DEADLINE_LABEL]: String(Date.now() + timeoutMs + 60_000),
    },
    HostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Memory: 256 * 1024 * 1024,
      PidsLimit: 64,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,size=16m" },
    },
  });
  let listed: ImagePackage[] | undefined;
  let failure: unknown;
  try {
    listed = await readListing(container, imageId, timeoutMs);
  } catch (err) {
    failure = err;
  }
  // Always removed; a removal that fails does not hide the listing's own error (and the container's
  // deadline label lets a reaper remove it later).
  try {
    await container.remove({ force: true });
  } catch (err) {
    if (!isNotFound(err) && failure === undefined) {
      failure = new Error(`could not remove the container that listed ${imageId}'s packages`, { cause: err });
    }
  }
  if (failure !== undefined || listed === undefined) throw failure;
  return listed;
}

async function readListing(container: Docker.Container, imageId: string, timeoutMs: number) {
  await container.start();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const exit = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, timedOut]);
  clearTimeout(timer);
  if (exit === "timeout") throw new Error(`listing the packages of ${imageId} took over ${timeoutMs} ms`);
  if (exit.StatusCode !== 0) {
    throw new Error(`listing the packages of ${imageId} exited with status ${exit.StatusCode}`);
  }
  const output = await container.logs({ stdout: true, stderr: false, follow: false });
  return parsePackageList(output.subarray(0, MAX_OUTPUT_BYTES).toString("utf8"));
}

/** The listing's lines, deduplicated and sorted; lines of no known shape are skipped. */
export function parsePackageList(text: string): ImagePackage[] {
  const seen = new Map<string, ImagePackage>();
  for (const raw of text.split(/\r?\n/)) {
    const m = LINE.exec(raw);
    if (!m) continue;
    const [, source, name = "", version = ""] = m;
    const pkg = { source: source as ImagePackage["source"], name, version };
    seen.set(`${pkg.source}\t${pkg.name.toLowerCase()}`, pkg);
    if (seen.size >= MAX_PACKAGES) break;
  }
  return [...seen.values()].sort((a, b) =>
    a.source === b.source ? a.name.localeCompare(b.name, "en") : a.source < b.source ? -1 : 1,
  );
}
