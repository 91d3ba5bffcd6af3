import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { BASE_IMAGE, TEST_ARTIFACTS_DIR, uniqueName } from "./env.ts";

function docker(args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(" ")} failed (${code}): ${err}`)),
    );
    child.stdin.end(stdin ?? "");
  });
}

/**
 * Builds a tiny model image whose entrypoint is a shell script (the two contract arguments
 * arrive as $0 and $1), saves it as a `docker save` tarball and removes the local image, so the
 * worker's load is what brings it into the engine, as for a real upload.
 */
export async function shellModelTarball(script: string): Promise<string> {
  const tag = `holdout-test/${uniqueName("model")}:latest`;
  const dockerfile = [
    `FROM ${BASE_IMAGE}`,
    "USER 65534",
    `ENTRYPOINT ${JSON.stringify(["/bin/sh", "-c", script])}`,
  ].join("\n");
  await docker(["build", "-q", "-t", tag, "-"], dockerfile);
  await mkdir(TEST_ARTIFACTS_DIR, { recursive: true });
  const file = path.join(TEST_ARTIFACTS_DIR, `${tag.replace(/[/:]/g, "_")}.tar`);
  await docker(["save", "-o", file, tag]);
  await docker(["rmi", tag]);
  return file;
}

/** Writes one row per study (views collapsed) with the given constant for every task. */
export const CONSTANT_PREDICTIONS = `awk -F, 'BEGIN { print "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion" }
NR > 1 { s = $1; sub(/\\/view[0-9]+_[a-z]+\\.jpg$/, "", s); if (!seen[s]++) print s ",0.5,0.5,0.5,0.5,0.5" }' "$0" > "$1"`;
