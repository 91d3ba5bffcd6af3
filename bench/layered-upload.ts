/**
 * Layered upload benchmark (not a test): what `holdout submit --image` sends to a real API for the
 * example baseline image (holdout/example-baseline:latest, about 400 MB, built by setup), against
 * what `docker save` writes for it. Figures: a first submission's bytes on the wire (every layer,
 * gzipped) as a share of `docker save`'s (target at most 50 %), and a resubmission of the same image
 * with a changed last layer (a "weights" file) as a share of the first submission's (target at most
 * 5 %: only that layer, the config and the manifest travel). Bytes are the server's count of what the
 * layer uploads read, plus the submission's JSON body.
 *   npx tsx bench/layered-upload.ts   (needs the services and images scripts/setup.sh prepares)
 */
import { spawn } from "node:child_process";
import { sendLayered } from "../apps/cli/src/layered-upload.ts";
import { BASELINE_IMAGE } from "../tests/support/env.ts";
import { buildImage, removeImage } from "../tests/support/images.ts";
import { startStack } from "../tests/support/stack.ts";
import { closeBenchStack, MiB, runPart, timed, type Row } from "./lib.ts";

/** Bytes `docker save` writes for `image` (counted, not stored). */
async function dockerSaveBytes(image: string): Promise<number> {
  const child = spawn("docker", ["save", image], { stdio: ["ignore", "pipe", "inherit"] });
  let bytes = 0;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) bytes += chunk.length;
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (code !== 0) throw new Error(`docker save ${image} failed (exit ${code})`);
  return bytes;
}

async function benchLayeredUpload(): Promise<Row[]> {
  const stack = await startStack({ worker: false });
  const changed = await buildImage(
    `FROM ${BASELINE_IMAGE}\nRUN echo 'weights, version 2' > /tmp/.bench-weights`,
    "bench-layers",
  );
  try {
    const team = await stack.createTeam();
    const remote = { server: stack.url, token: team.token };
    const quiet = () => {};
    const saved = await dockerSaveBytes(BASELINE_IMAGE);
    const first = await timed(() => sendLayered(remote, BASELINE_IMAGE, { model: "bench first" }, quiet));
    const again = await timed(() => sendLayered(remote, changed, { model: "bench changed" }, quiet));
    const share = (part: number, whole: number) => part / whole;
    const firstShare = share(first.value.sentBytes, saved);
    const againShare = share(again.value.sentBytes, first.value.sentBytes);
    const mb = (bytes: number) => (bytes / MiB).toFixed(1);
    return [
      {
        figure: `layered upload, first submission of ${BASELINE_IMAGE} (MiB sent)`,
        ours: `${mb(first.value.sentBytes)} (${first.value.layersSent}/${first.value.layersTotal} layers, ${(first.ms / 1000).toFixed(0)} s)`,
        baseline: `${mb(saved)} (docker save)`,
        ratio: `${(firstShare * 100).toFixed(1)} %`,
        target: "<= 50 %",
        pass: firstShare <= 0.5,
      },
      {
        figure: "layered upload, resubmission with a new last layer (bytes sent)",
        ours: `${again.value.sentBytes} (${again.value.layersSent}/${again.value.layersTotal} layers, ${(again.ms / 1000).toFixed(0)} s)`,
        baseline: `${first.value.sentBytes} (first submission)`,
        ratio: `${(againShare * 100).toFixed(2)} %`,
        target: "<= 5 %",
        pass: againShare <= 0.05,
      },
    ];
  } finally {
    await removeImage(changed).catch((err: unknown) => console.error(`could not remove ${changed}`, err));
    await closeBenchStack(stack);
  }
}

await runPart(import.meta.url, benchLayeredUpload);
