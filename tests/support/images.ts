import { spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { BASE_IMAGE, TEST_ARTIFACTS_DIR, uniqueName } from "./env.ts";

function docker(args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Standard input only when there is some: a command that reads none may exit before an empty
    // write reaches it, and the write then fails with EPIPE outside any test.
    const child = spawn("docker", args, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(" ")} failed (${code}): ${err}`)),
    );
    if (stdin !== undefined) {
      // A command that fails before reading all of it closes the pipe: its exit code tells why.
      child.stdin!.on("error", () => {});
      child.stdin!.end(stdin);
    }
  });
}

/**
 * Builds a tiny model image whose entrypoint is a shell script (the two contract arguments
 * arrive as $0 and $1), saves it as a `docker save` tarball and removes the local image, so the
 * worker's load is what brings it into the engine, as for a real upload.
 */
export async function shellModelTarball(script: string): Promise<string> {
  const dockerfile = [
    `FROM ${BASE_IMAGE}`,
    "USER 65534",
    `ENTRYPOINT ${JSON.stringify(["/bin/sh", "-c", script])}`,
  ].join("\n");
  return dockerfileTarball(dockerfile, "model");
}

/**
 * shellModelTarball's model in an image of about 3 MB instead of the base's 120: dash, mawk, sleep
 * and wc with the libraries they link, on an empty image. For tests that upload and load many.
 */
export async function tinyShellModelTarball(script: string): Promise<string> {
  const tools = "/bin/dash /usr/bin/mawk /usr/bin/sleep /usr/bin/wc";
  // A tagged image of its own, not a build stage: a stage's image would stay behind untagged.
  const toolbox = await buildImage(
    [
      `FROM ${BASE_IMAGE}`,
      // Each program and the libraries `ldd` names, at the same paths under /tiny.
      `RUN mkdir /tiny && for f in ${tools}; do cp --parents -L "$f" /tiny/ && ` +
        `for lib in $(ldd "$f" | grep -o '/[^ ]*'); do cp --parents -L "$lib" /tiny/; done; done && ` +
        "ln -s dash /tiny/bin/sh && ln -s mawk /tiny/usr/bin/awk",
    ].join("\n"),
    "tiny-tools",
  );
  try {
    const dockerfile = [
      "FROM scratch",
      `COPY --from=${toolbox} /tiny/ /`,
      "USER 65534",
      `ENTRYPOINT ${JSON.stringify(["/bin/sh", "-c", script])}`,
    ].join("\n");
    return await dockerfileTarball(dockerfile, "tiny-model");
  } finally {
    await removeImage(toolbox);
  }
}

/** A tar archive of the given files, in memory. */
export async function tarBuffer(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Writes one row per study (views collapsed) with the given constant for every task. */
export const CONSTANT_PREDICTIONS = `awk -F, 'BEGIN { print "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion" }
NR > 1 { s = $1; sub(/\\/view[0-9]+_[a-z]+\\.jpg$/, "", s); if (!seen[s]++) print s ",0.5,0.5,0.5,0.5,0.5" }' "$0" > "$1"`;

/** Builds an image from a Dockerfile string (no context) under a unique tag; returns the tag. */
export async function buildImage(dockerfile: string, prefix = "hostile"): Promise<string> {
  const tag = `holdout-test/${uniqueName(prefix)}:latest`;
  // No network: these builds need none, and do not depend on the engine's default bridge.
  // No cache: the legacy builder would share its intermediate images between test files that
  // build the same first steps at once, and the `docker rmi` after one build prunes those shared
  // parents while another build is still using them ("failed to get digest"). Force-rm: a build
  // that fails leaves no intermediate container behind either.
  await docker(["build", "--network", "none", "--no-cache", "--force-rm", "-q", "-t", tag, "-"], dockerfile);
  return tag;
}

export async function imageId(ref: string): Promise<string> {
  return (await docker(["image", "inspect", "--format", "{{.Id}}", ref])).trim();
}

export async function removeImage(ref: string): Promise<void> {
  await docker(["rmi", "-f", ref]);
}

/** Builds an image from a Dockerfile string, saves it as a tarball, removes the image; returns the file. */
export async function dockerfileTarball(dockerfile: string, prefix = "hostile"): Promise<string> {
  const tag = await buildImage(dockerfile, prefix);
  await mkdir(TEST_ARTIFACTS_DIR, { recursive: true });
  const file = path.join(TEST_ARTIFACTS_DIR, `${tag.replace(/[/:]/g, "_")}.tar`);
  await docker(["save", "-o", file, tag]);
  await removeImage(tag);
  return file;
}

/**
 * Rewrites a `docker save` tarball: `manifest.json` and `repositories` name `tags` instead, as a
 * hostile team could hand-craft, and `extra` members are appended (e.g. names with `../`).
 */
export async function craftTarball(
  source: string,
  opts: {
    tags?: string[];
    extra?: { name: string; content: string; type?: "file" | "symlink"; linkname?: string }[];
  },
): Promise<string> {
  const extract = tar.extract();
  const pack = tar.pack();
  const out = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("crafted")}.tar`);
  const written = pipeline(pack, createWriteStream(out));
  const input = createReadStream(source);
  input.pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const { name } = entry.header;
    if (opts.tags && name === "manifest.json") {
      const manifest = JSON.parse(body.toString()) as { RepoTags: string[] }[];
      body = Buffer.from(JSON.stringify(manifest.map((m) => ({ ...m, RepoTags: opts.tags }))));
    } else if (opts.tags && name === "repositories") {
      const [id] = Object.values(
        JSON.parse(body.toString()) as Record<string, Record<string, string>>,
      ).flatMap((tags) => Object.values(tags));
      const repos: Record<string, Record<string, string>> = {};
      for (const t of opts.tags) {
        const [repo = t, tagName = "latest"] = t.split(":");
        repos[repo] = { [tagName]: id ?? "" };
      }
      body = Buffer.from(JSON.stringify(repos));
    }
    await new Promise<void>((resolve, reject) =>
      pack.entry({ ...entry.header, size: body.length }, body, (err) => (err ? reject(err) : resolve())),
    );
  }
  for (const e of opts.extra ?? []) {
    pack.entry(
      e.type === "symlink" ? { name: e.name, type: "symlink", linkname: e.linkname ?? "" } : { name: e.name },
      e.type === "symlink" ? "" : e.content,
    );
  }
  pack.finalize();
  await written;
  return out;
}

/**
 * A gzip bomb that looks like a `docker save` archive: a tar member claiming `size` bytes of zeros.
 * Built from repeated gzip members (valid gzip), so it costs nothing to make: about 1 KiB per MiB.
 */
export async function gzipBomb(size: number): Promise<string> {
  const chunk = 16 << 20;
  const parts: Buffer[] = [gzipSync(ustarHeader("blobs/sha256/layer", size))];
  const zeros = gzipSync(Buffer.alloc(chunk), { level: 9 });
  for (let done = 0; done < size; done += chunk) parts.push(zeros);
  await mkdir(TEST_ARTIFACTS_DIR, { recursive: true });
  const out = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("bomb")}.tar.gz`);
  await writeFile(out, Buffer.concat(parts));
  return out;
}

/**
 * A ustar header for a regular file, or with `typeflag` another member (e.g. "x", a PAX extended
 * header); a body of `size` bytes must follow.
 */
export function ustarHeader(name: string, size: number, typeflag = "0"): Buffer {
  const h = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void =>
    void h.write(value, offset, length, "ascii");
  const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, "0") + "\0";
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, "        "); // the checksum counts its own field as spaces
  field(156, 1, typeflag);
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of h) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** The engine-side image leases (tags) a submission holds, on the shared engine or at `socket`. */
export async function leaseTagsOf(submissionId: string, socket?: string): Promise<string[]> {
  const out = await docker([
    ...(socket ? ["-H", `unix://${socket}`] : []),
    "images",
    "--format",
    "{{.Repository}}:{{.Tag}}",
    "--filter",
    `reference=holdout-lease/${submissionId}`,
  ]);
  return out.split("\n").filter((line) => line !== "");
}
