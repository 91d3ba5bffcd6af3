/**
 * Image ingest (not a test): the worker's load of an uploaded `docker save` archive (one pass: each
 * member checked as it streams to the engine, tags stripped, manifest last; then confirmed) against
 * a plain `docker load` of the same file, taking turns at going first, each after a `sync` (medians
 * of six rounds), with the image removed after every load so that each one writes its layer. The
 * image is private to this run, built on holdout/base, whose layers the engine already holds: the
 * worker leaves them out of what it sends (known-layers.ts), `docker load` sends them and the engine
 * skips them. A reference row loads the same archive with every layer sent, as for an image on a
 * base that is not ours.
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
    const sendsAll = new Sandbox(docker, { keeperImage: BASE, sharedLayerImages: [] });
    const remove = () => run("docker", ["rmi", "-f", imageId]);
    const ours: number[] = [];
    const oursAll: number[] = [];
    const plain: number[] = [];
    const notSent = new Set<number>();
    const load = (loader: Sandbox, into: number[]) => async () => {
      const loaded = await timed(() => loader.loadImage(tarball));
      if (loaded.value.preexisting) throw new Error("the bench image was already loaded");
      into.push(loaded.ms / 1000);
      if (loader === sandbox) notSent.add(loaded.value.layersNotSent);
    };
    const plainOnce = async () => {
      plain.push((await timed(() => run("docker", ["load", "-q", "-i", tarball]))).ms / 1000);
    };
    const loads = [load(sandbox, ours), plainOnce, load(sendsAll, oursAll)];
    for (let i = 0; i < ROUNDS; i++) {
      // Each goes first in turn, and each load starts after a `sync`: none pays for another's
      // writeback or for coming later.
      for (const once of [...loads.slice(i % 3), ...loads.slice(0, i % 3)]) {
        await run("sync", []);
        await once();
        await remove();
      }
    }
    const o = median(ours);
    const a = median(oursAll);
    const p = median(plain);
    return [
      {
        figure: `image ingest, ${LAYER / MiB} MiB layer on holdout/base (s)`,
        ours: `${o.toFixed(2)} (${[...notSent].join("/")} base layer not sent)`,
        baseline: `${p.toFixed(2)} (docker load)`,
        ratio: `${(p / o).toFixed(2)}x speed`,
        target: ">= 0.9x",
        pass: p / o >= 0.9,
      },
      {
        figure: "  reference: the same, every layer sent (s)",
        ours: a.toFixed(2),
        baseline: `${p.toFixed(2)} (docker load)`,
        ratio: `${(p / a).toFixed(2)}x speed`,
        target: "(reference)",
        pass: true,
      },
    ];
  } finally {
    await run("docker", ["rmi", "-f", tag]).catch(() => ({ stdout: "", stderr: "" })); // already gone normally
    await rm(work, { recursive: true, force: true });
  }
}

await runPart(import.meta.url, benchIngest);
