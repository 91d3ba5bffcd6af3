/**
 * End-to-end overhead (not a test): the `constant` example model from upload (curl) to scored through a
 * real API and a worker process (no smoke run), against what the same work costs by hand in the same
 * run: `docker load` of the same tarball plus a plain `docker run --rm` of it on the same input.
 * Target: ours at most 1 s over the plain run plus the image load. Medians of a few alternating rounds.
 *   part of `npm run bench` (needs the services and images scripts/setup.sh prepares)
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { generateTestset } from "@holdout/testset";
import { startWorkerProcess } from "../tests/support/processes.ts";
import { startStack } from "../tests/support/stack.ts";
import { curlSubmit, median, plainDockerRun, runPart, run, timed, closeBenchStack, type Row } from "./lib.ts";

const IMAGE = "holdout/example-constant:latest";
const ROUNDS = 3;

export async function benchEndToEnd(): Promise<Row[]> {
  const work = await mkdtemp(path.join(os.tmpdir(), "holdout-bench-e2e-"));
  const testset = path.join(work, "testset");
  await generateTestset({ outDir: testset, seed: 3 });
  const tarball = path.join(work, "constant.tar");
  await run("docker", ["save", "-o", tarball, IMAGE]);
  const out = path.join(work, "out");
  await run("mkdir", ["-m", "777", out]);
  const stack = await startStack();
  // The worker in a process of its own, as deployed: run in the process that has just received the
  // upload, its image load ran at about half the speed it has alone (side by side: 0.5-0.7 s against
  // 0.35 s for this image), which no deployment sees.
  const worker = await startWorkerProcess(
    "bench-worker",
    stack.workerEnv({
      HOLDOUT_TESTSET_DIR: testset,
      HOLDOUT_RUN_TIMEOUT_SECONDS: "120",
      LOG_LEVEL: "info", // its "worker started" line says it takes jobs; its output is kept, not printed
      // No smoke run: the figure compares one model run with one plain run. (Unset, not empty: the
      // stack's default development set is what this removes.)
      ...({ HOLDOUT_DEVSET_DIR: undefined } as unknown as Record<string, string>),
    }),
  ).catch(async (err: unknown) => {
    await closeBenchStack(stack, work);
    throw err;
  });
  try {
    const { token } = await stack.createTeam();
    const submit = async (): Promise<number> => {
      const { ms } = await timed(async () => {
        const id = await curlSubmit(stack.url, token, tarball, "constant");
        for (;;) {
          const s = (await (
            await fetch(`${stack.url}/api/v1/submissions/${id}`, {
              headers: { authorization: `Bearer ${token}` },
            })
          ).json()) as { state: string; failure: unknown };
          if (s.state === "scored") return;
          if (s.state === "failed" || s.state === "cancelled")
            throw new Error(`run ended ${JSON.stringify(s)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      });
      return ms / 1000;
    };
    const load = async () => (await timed(() => run("docker", ["load", "-q", "-i", tarball]))).ms / 1000;
    const plain = async () => (await plainDockerRun(IMAGE, path.join(testset, "public"), out)) / 1000;
    await submit(); // warm-up: first-run allocations, page cache
    await plain();
    const ours: number[] = [];
    const loads: number[] = [];
    const plains: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ours.push(await submit());
      loads.push(await load());
      plains.push(await plain());
    }
    const o = median(ours);
    const l = median(loads);
    const p = median(plains);
    return [
      {
        figure: "constant model, upload to scored (s)",
        ours: o.toFixed(2),
        baseline: `${(p + l).toFixed(2)} (run ${p.toFixed(2)} + load ${l.toFixed(2)})`,
        ratio: `+${(o - p - l).toFixed(2)} s`,
        target: "<= +1 s",
        pass: o - p - l <= 1,
      },
    ];
  } finally {
    await worker.stop("SIGTERM");
    await closeBenchStack(stack, work);
  }
}

await runPart(import.meta.url, benchEndToEnd);
