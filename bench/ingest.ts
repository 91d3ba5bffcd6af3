/**
 * Image ingest (not a test): the worker's load of an uploaded `docker save` archive (one pass: each
 * member checked as it streams to the engine, tags stripped, manifest last; then confirmed) against
 * a plain `docker load` of the same file, alternating who goes first, each after a `sync` (medians of
 * six rounds), with the image removed after every load so that each one writes its layer. The image
 * is private to this run: the base layers it shares with holdout/base are already on the engine for
 * both.
 * Target: at least 0.9x plain `docker load`'s speed.
 *   part of `npm run bench`
 */
import { randomBytes } from "node:crypto";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { connectDocker, Sandbox } from "@holdout/sandbox";
import { median, MiB, runPart, run, timed, type Row } from "./lib.ts";

const BASE = "holdout/base:bookworm";
const LAYER = 128 * MiB;
const ROUNDS = 6;

export async function benchIngest(): Promise<Row[]> {
  const work = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-ingest-"));
  const tag = `holdout-bench/ingest-${process.pid}:latest`;
  const docker = connectDocker();
  try {
    await writeFile(path.join(work, "weights.bin"), randomBytes(LAYER));
    await writeFile(
      path.join(work, "Dockerfile"),
      `FROM ${BASE}\nCOPY weights.bin /opt/weights.bin\nUSER 65534\n`,
    );
    await run("docker", ["build", "-q", "-t", tag, work]);
    const tarball = path.join(work, "image.tar");
    await run("docker", ["save", "-o", tarball, tag]);
    const imageId = (await run("docker", ["image", "inspect", "--format", "{{.Id}}", tag])).stdout.trim();
    await run("docker", ["rmi", "-f", tag]);

    const sandbox = new Sandbox(docker, { keeperImage: BASE });
    const remove = () => run("docker", ["rmi", "-f", imageId]);
    const ours: number[] = [];
    const plain: number[] = [];
    const oursOnce = async () => {
      const loaded = await timed(() => sandbox.loadImage(tarball));
      if (loaded.value.preexisting) throw new Error("the bench image was already loaded");
      ours.push(loaded.ms / 1000);
    };
    const plainOnce = async () => {
      plain.push((await timed(() => run("docker", ["load", "-q", "-i", tarball]))).ms / 1000);
    };
    for (let i = 0; i < ROUNDS; i++) {
      // Each side goes first in every other round, and each load starts after a `sync`: neither
      // pays for the other's writeback or for coming second.
      for (const load of i % 2 === 0 ? [oursOnce, plainOnce] : [plainOnce, oursOnce]) {
        await run("sync", []);
        await load();
        await remove();
      }
    }
    const o = median(ours);
    const p = median(plain);
    return [
      {
        figure: `image ingest, ${LAYER / MiB} MiB layer (s)`,
        ours: o.toFixed(2),
        baseline: `${p.toFixed(2)} (docker load)`,
        ratio: `${(p / o).toFixed(2)}x speed`,
        target: ">= 0.9x",
        pass: p / o >= 0.9,
      },
    ];
  } finally {
    await run("docker", ["rmi", "-f", tag]).catch(() => ({ stdout: "", stderr: "" })); // already gone normally
    await rm(work, { recursive: true, force: true });
  }
}

await runPart(import.meta.url, benchIngest);
