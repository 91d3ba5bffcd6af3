import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { pack } from "tar-stream";

// The participants' `holdout` command as an npm package this server builds from its own sources and
// serves (routes/cli.ts), so a participant installs it with one line and nothing of ours besides:
// `npm install -g <server>/cli/holdout-cli-<version>.tgz`. One file of JavaScript (esbuild bundles
// the participant commands, apps/cli/src/participant.ts, with every dependency), no install
// scripts, and the licences of what it bundles. Built once per process, on first request.

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const ENTRY = path.join(REPO_ROOT, "apps/cli/src/participant.ts");

export interface CliPackage {
  name: string;
  version: string;
  /** The file name the package is served under: `holdout-cli-<version>.tgz`. */
  fileName: string;
  bytes: Buffer;
  /** npm's `integrity` form (sha512, base64) and a plain SHA-256 (hex), for who wants to check. */
  integrity: string;
  sha256: string;
}

/** The server's version: the repository's package.json. The CLI it serves carries the same. */
export async function serverVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

/** Where the package is served, without building it (the competition page names it). */
export const cliPackageFileName = (version: string) => `holdout-cli-${version}.tgz`;

let built: Promise<CliPackage> | undefined;

/** The package, built on first use and kept; a failed build is retried at the next call. */
export function cliPackage(): Promise<CliPackage> {
  built ??= buildCliPackage().catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}

async function buildCliPackage(): Promise<CliPackage> {
  const version = await serverVersion();
  const result = await build({
    entryPoints: [ENTRY],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
    // The CLI compares this with the version each server answers with (apps/cli/src/api-client.ts).
    define: { "process.env.HOLDOUT_CLI_VERSION": JSON.stringify(version) },
    // Bundled CommonJS dependencies call require() for Node's built-in modules.
    banner: {
      js: 'import { createRequire as __holdoutRequire } from "node:module"; const require = __holdoutRequire(import.meta.url);',
    },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error("esbuild wrote no output for the CLI package");
  const bundled = Object.keys(result.metafile.outputs[Object.keys(result.metafile.outputs)[0]!]!.inputs);
  const manifest = {
    name: "holdout-cli",
    version,
    description: "Submit models to a Holdout competition server, follow them, read its leaderboard",
    type: "module",
    bin: { holdout: "holdout.mjs" },
    files: ["holdout.mjs", "THIRD_PARTY_LICENSES.txt", "README.md"],
    engines: { node: ">=20.19" },
    license: "UNLICENSED",
  };
  const files: [string, Buffer | string, number][] = [
    ["package.json", `${JSON.stringify(manifest, null, 2)}\n`, 0o644],
    ["README.md", readme(version), 0o644],
    ["holdout.mjs", `#!/usr/bin/env node\n${output.text}`, 0o755],
    ["THIRD_PARTY_LICENSES.txt", await licences(bundled), 0o644],
  ];
  const bytes = gzipSync(await tarOf(files), { level: 9 });
  return {
    name: manifest.name,
    version,
    fileName: cliPackageFileName(version),
    bytes,
    integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

function readme(version: string): string {
  return [
    `# holdout-cli ${version}`,
    "",
    "The participants' command of a Holdout competition server: `holdout submit`, `holdout status`,",
    "`holdout leaderboard`, and, offline, `holdout score` and `holdout testset generate --dev`.",
    "Run `holdout --help`. Set HOLDOUT_SERVER and HOLDOUT_TOKEN, or pass --server and --token.",
    "",
  ].join("\n");
}

/**
 * The licence texts of the npm packages the bundle holds, one section each: the bundle copies their
 * code, so it carries their notices.
 */
async function licences(bundled: string[]): Promise<string> {
  const packages = new Map<string, string>();
  for (const input of bundled) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const rest = input.slice(at + "node_modules/".length).split("/");
    const name = rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
    packages.set(name, path.join(REPO_ROOT, input.slice(0, at), "node_modules", name));
  }
  const sections: string[] = [];
  for (const [name, dir] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
    const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as {
      version?: string;
      license?: string;
    };
    const text = await licenceText(dir);
    sections.push(
      `${name}@${pkg.version ?? "?"} (${pkg.license ?? "see its text"})\n\n${text ?? "(no licence file in the package)"}\n`,
    );
  }
  return `The holdout command bundles these packages.\n\n${sections.join(`\n${"-".repeat(72)}\n\n`)}`;
}

async function licenceText(dir: string): Promise<string | undefined> {
  for (const name of ["LICENSE", "LICENSE.md", "LICENSE.txt", "license", "LICENCE", "license.md"]) {
    const text = await readFile(path.join(dir, name), "utf8").catch(() => undefined);
    if (text !== undefined) return text.trim();
  }
  return undefined;
}

/** An npm package tarball: every file under `package/`, fixed times, so equal sources make equal bytes. */
async function tarOf(files: [string, Buffer | string, number][]): Promise<Buffer> {
  const p = pack();
  for (const [name, body, mode] of files) {
    p.entry({ name: `package/${name}`, mode, mtime: new Date(0) }, body);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
