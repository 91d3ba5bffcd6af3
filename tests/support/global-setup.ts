import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { promisify } from "node:util";
import { generateTestset } from "@holdout/testset";
import { BASELINE_IMAGE, BASELINE_TARBALL, TEST_ARTIFACTS_DIR, TEST_TESTSET_DIR } from "./env.ts";

const run = promisify(execFile);

/** A small development set (public labels) for the worker's smoke runs, beside the shared test set. */
export const TEST_DEVSET_DIR = `${TEST_TESTSET_DIR}-dev`;

/**
 * Prepares what many test files share and nothing mutates: the synthetic test set, a development
 * set for smoke runs, and a `docker save` of the example image. Both are cached in the temp dir; a half-written cache is
 * never used because each is written under a temporary name and renamed when complete.
 */
export default async function setup() {
  if (!existsSync(TEST_TESTSET_DIR)) {
    const partial = `${TEST_TESTSET_DIR}.${process.pid}.partial`;
    await rm(partial, { recursive: true, force: true });
    await generateTestset({ outDir: partial, seed: 7 });
    await rename(partial, TEST_TESTSET_DIR);
  }
  if (!existsSync(TEST_DEVSET_DIR)) {
    const partial = `${TEST_DEVSET_DIR}.${process.pid}.partial`;
    await rm(partial, { recursive: true, force: true });
    await generateTestset({ outDir: partial, kind: "dev", studies: 30 });
    await rename(partial, TEST_DEVSET_DIR);
  }
  await mkdir(TEST_ARTIFACTS_DIR, { recursive: true });
  const { stdout } = await run("docker", ["image", "inspect", "--format", "{{.Id}}", BASELINE_IMAGE]).catch(
    () => {
      throw new Error(`the image ${BASELINE_IMAGE} is missing: run scripts/setup.sh (npm test does) first`);
    },
  );
  const marker = `${BASELINE_TARBALL}.${stdout.trim().replace("sha256:", "").slice(0, 16)}`;
  if (!existsSync(marker)) {
    await run("docker", ["save", "-o", `${BASELINE_TARBALL}.partial`, BASELINE_IMAGE]);
    await rename(`${BASELINE_TARBALL}.partial`, BASELINE_TARBALL);
    await run("touch", [marker]);
  }
}
