// Sandbox overhead: the hardened runner (keeper, tmpfs volume, attach, archive read-back, cleanup)
// against a plain `docker run --rm` of the same constant model on the same input, alternating so
// that engine drift hits both alike. Prints both medians and their ratio (target: at most 1.5x).
//   npm run bench:sandbox [-- N]     (N runs each, default 15, at most 50)
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { connectDocker, Sandbox, type RunLimits } from "@holdout/sandbox";
import { generateTestset } from "@holdout/testset";
import { CONSTANT_PREDICTIONS } from "../tests/support/images.ts";
import { median, plainDockerRun, run, runWithInput } from "./lib.ts";

const N = Math.min(50, Math.max(1, Number(process.argv[2] ?? 15)));
const BASE = "holdout/base:bookworm";
const EXAMPLE = "holdout/example-constant:latest";
const limits: RunLimits = {
  memoryBytes: 512 << 20,
  pids: 64,
  cpus: 1,
  wallClockMs: 60_000,
  outputBytes: 16 << 20,
  tmpBytes: 64 << 20,
  logBytes: 64 << 10,
  openFiles: 1024,
};
async function main(): Promise<void> {
  const docker = connectDocker();
  const work = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-sandbox-"));
  let builtTag: string | undefined;
  try {
    await generateTestset({ outDir: path.join(work, "testset"), seed: 1 });
    const publicDir = path.join(work, "testset", "public");
    let image = EXAMPLE;
    if (
      !(await docker
        .getImage(EXAMPLE)
        .inspect()
        .then(
          () => true,
          () => false,
        ))
    ) {
      builtTag = `holdout-bench/constant-${process.pid}:latest`;
      const dockerfile = `FROM ${BASE}\nUSER 65534\nENTRYPOINT ${JSON.stringify(["/bin/sh", "-c", CONSTANT_PREDICTIONS])}\n`;
      await runWithInput("docker", ["build", "-q", "-t", builtTag, "-"], dockerfile);
      image = builtTag;
    }
    const imageId = (await docker.getImage(image).inspect()).Id;
    const sandbox = new Sandbox(docker, { keeperImage: BASE });
    const out = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-out-"));

    const hardened = async (): Promise<number> => {
      const t = performance.now();
      const r = await sandbox.runSubmission({
        imageId,
        workspaceHostDir: publicDir,
        limits,
        labels: { "holdout.bench": "1" },
      });
      if (r.verdict !== "ok") throw new Error(`sandbox run failed: ${r.verdict} ${r.message}\n${r.log}`);
      return performance.now() - t;
    };
    const plain = (): Promise<number> => plainDockerRun(imageId, publicDir, out);
    await run("chmod", ["777", out]);
    await hardened(); // warm-up: image and page caches
    await plain();
    const times = { sandbox: [] as number[], plain: [] as number[] };
    for (let i = 0; i < N; i++) {
      times.sandbox.push(await hardened());
      times.plain.push(await plain());
    }
    const s = median(times.sandbox);
    const p = median(times.plain);
    console.log(`runs each: ${N}  image: ${image}`);
    console.log(`sandbox.runSubmission median: ${s.toFixed(0)} ms`);
    console.log(`docker run --rm median:       ${p.toFixed(0)} ms`);
    console.log(`ratio: ${(s / p).toFixed(2)}x (target <= 1.5x)`);
    await rm(out, { recursive: true, force: true });
  } finally {
    if (builtTag) await run("docker", ["rmi", "-f", builtTag]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
