import { randomUUID } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectDocker,
  reapLeftovers,
  Sandbox,
  SANDBOX_LABEL,
  type RunLimits,
  type RunSubmissionOptions,
} from "../src/index.ts";
import { buildTestImage } from "./build-image.ts";

// Integration tests against the real Docker engine: each model is a tiny image whose ENTRYPOINT is a
// shell script, run exactly as a submission would be.

const docker = connectDocker();
const sandbox = new Sandbox(docker, { keeperImage: "holdout/base:bookworm" });
const run = randomUUID().slice(0, 8);
const runLabel = { "holdout.test.run": run };
const limits: RunLimits = {
  memoryBytes: 64 << 20,
  pids: 32,
  cpus: 1,
  wallClockMs: 20_000,
  outputBytes: 1 << 20,
  tmpBytes: 8 << 20,
  logBytes: 64 << 10,
  openFiles: 256,
};

const PATHS = [
  "CheXpert-v1.0/test/patient00001/study1/view1_frontal.jpg",
  "CheXpert-v1.0/test/patient00002/study1/view1_frontal.jpg",
];

// Each script gets `test_image_paths.csv /out/predictions.csv` appended to its ENTRYPOINT + CMD.
const PREDICT = `{ echo "Study,Atelectasis"; tail -n +2 "$HOLDOUT_INPUT" | sed 's#/view.*#,0.5#'; } > "$HOLDOUT_OUTPUT"`;
const MODELS = {
  ok: `
echo "args=$*"
echo "cwd=$(pwd) uid=$(id -u) gid=$(id -g) home=$HOME"
echo "interfaces=$(ls /sys/class/net | tr '\\n' ' ')"
if (echo x > /workspace/x) 2>/dev/null; then echo workspace=writable; else echo workspace=read-only; fi
if (echo x > /etc/x) 2>/dev/null; then echo rootfs=writable; else echo rootfs=read-only; fi
echo "data=$(grep ' /data ' /proc/mounts | cut -d' ' -f1)"
echo "seen=$(wc -l < "$2")" # relative to the working directory
${PREDICT}`,
  fail: `echo "about to fail" >&2; exit 3`,
  silent: `echo "done, but wrote nothing"`,
  // The right file under another name, a directory, and a name with a newline and an RTL override.
  misnamed: `${PREDICT}; mv "$2" /out/preds.csv; mkdir /out/cache; printf x > "$(printf '/out/a\\nb\\342\\200\\256.txt')"`,
  crowded: `for i in $(seq 1 30); do : > /out/f$i; done`,
  symlink: `ln -s /etc/passwd "$2"; echo linked`,
  sleep: `echo sleeping; exec sleep 60`,
  // tail must hold a whole "line" in memory, and /dev/zero has no newlines.
  oom: `head -c 300000000 /dev/zero | tail`,
  chatty: `head -c 200000 /dev/zero | tr '\\0' x; echo; echo THE-END; ${PREDICT}`,
  big: `head -c 2000000 /dev/zero > "$2"`,
  // Its image's /tmp is 0755 root with a file in it (see beforeAll).
  scratch: `
echo "tmp=$(stat -c '%a %U' /tmp) home=$HOME tmpdir=$TMPDIR"
echo "image-files=$(ls -A /tmp | wc -l)"
if echo x > /tmp/x; then echo tmp=writable; fi
if mkdir -p "$HOME/.cache/model" && echo x > "$HOME/.cache/model/x"; then echo home=writable; fi
if ! head -c 9000000 /dev/zero 2>&1 > /tmp/big; then echo tmp=full; fi
${PREDICT}`,
};
type Model = keyof typeof MODELS;

let workspace: string;
const images = {} as Record<Model, string>;

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), "holdout-sandbox-ws-"));
  await mkdir(join(workspace, "CheXpert-v1.0"));
  await writeFile(join(workspace, "test_image_paths.csv"), ["Path", ...PATHS, ""].join("\n"));
  // The model runs as nobody: the test set must be world-readable, as a real one is.
  await chmod(workspace, 0o755);
  await chmod(join(workspace, "test_image_paths.csv"), 0o644);
  for (const [name, script] of Object.entries(MODELS)) {
    // The ok model also checks that CMD comes before the appended arguments and that an image
    // VOLUME does not become a writable host volume.
    const dockerfile =
      name === "ok"
        ? `FROM holdout/base:bookworm\nCOPY model.sh /model.sh\nVOLUME /data\nENTRYPOINT ["/bin/sh"]\nCMD ["/model.sh", "--flag"]\n`
        : name === "scratch"
          ? `FROM holdout/base:bookworm\nRUN chmod 0755 /tmp && touch /tmp/from-image\nCOPY model.sh /model.sh\nENTRYPOINT ["/bin/sh", "/model.sh"]\n`
          : `FROM holdout/base:bookworm\nCOPY model.sh /model.sh\nENTRYPOINT ["/bin/sh", "/model.sh"]\n`;
    images[name as Model] = await buildImage(dockerfile, `set -u\n${script}\n`);
  }
});

afterEach(async () => {
  // Whatever the outcome, a run leaves nothing behind.
  const filters = JSON.stringify({ label: [`${SANDBOX_LABEL}=1`, `holdout.test.run=${run}`] });
  expect(await docker.listContainers({ all: true, filters })).toEqual([]);
  expect((await docker.listVolumes({ filters })).Volumes ?? []).toEqual([]);
});

afterAll(async () => {
  // With their build steps: sandbox.removeImage keeps untagged parents (the worker must not take
  // other builds' cache), and these parents are this file's own.
  for (const id of Object.values(images)) await docker.getImage(id).remove({ force: true });
  if (workspace) await rm(workspace, { recursive: true, force: true });
});

function runModel(
  model: Model,
  overrides: Omit<Partial<RunSubmissionOptions>, "limits"> & { limits?: Partial<RunLimits> } = {},
) {
  return sandbox.runSubmission({
    imageId: images[model],
    workspaceHostDir: workspace,
    labels: runLabel,
    ...overrides,
    limits: { ...limits, ...overrides.limits },
  });
}

describe("runSubmission", () => {
  it("runs a well-behaved model hardened and returns its predictions", async () => {
    const result = await runModel("ok");
    expect(result).toMatchObject({ verdict: "ok", exitCode: 0, logTruncated: false });
    expect(result.predictions?.toString()).toBe(
      "Study,Atelectasis\nCheXpert-v1.0/test/patient00001/study1,0.5\nCheXpert-v1.0/test/patient00002/study1,0.5\n",
    );
    const log = result.log;
    expect(log).toContain("args=--flag test_image_paths.csv /out/predictions.csv\n");
    expect(log).toContain("cwd=/workspace uid=65534 gid=65534 home=/tmp\n");
    expect(log).toContain("interfaces=lo \n");
    expect(log).toContain("workspace=read-only\n");
    expect(log).toContain("rootfs=read-only\n");
    expect(log).toContain("data=tmpfs\n");
    expect(log).toContain("seen=3\n");
    await expect(readFile(join(workspace, "x"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("reports a non-zero exit with the model's stderr", async () => {
    const result = await runModel("fail");
    expect(result).toMatchObject({ verdict: "nonzero_exit", exitCode: 3, predictions: null });
    expect(result.log).toBe("about to fail\n");
    expect(result.message).toMatch(/code 3/);
  });

  it("reports no_output when the model exits 0 without writing predictions", async () => {
    const result = await runModel("silent");
    expect(result).toMatchObject({ verdict: "no_output", exitCode: 0, predictions: null });
    expect(result.message).toMatch(/did not write \/out\/predictions\.csv/);
  });

  it("says what /out holds when predictions.csv is not there: names, kinds, sizes", async () => {
    const empty = await runModel("silent");
    expect(empty.message).toBe("the model did not write /out/predictions.csv; /out is empty");
    const misnamed = await runModel("misnamed");
    expect(misnamed).toMatchObject({ verdict: "no_output", predictions: null });
    expect(misnamed.message).toMatch(/^the model did not write \/out\/predictions\.csv; \/out holds: /);
    expect(misnamed.message).toContain('"preds.csv" (104 bytes)');
    expect(misnamed.message).toContain('"cache" (a directory)');
    // The model's own names cannot break the line or turn the text around.
    expect(misnamed.message).toContain('"a?b?.txt" (1 bytes)');
  });

  it("lists at most 20 entries of /out, and says there were more", async () => {
    const result = await runModel("crowded");
    expect(result.message.match(/"f\d+" \(0 bytes\)/g)).toHaveLength(20);
    expect(result.message).toMatch(/, and more \(only the first 20 are listed\)$/);
  });

  it("does not follow a symlink planted at /out/predictions.csv", async () => {
    const result = await runModel("symlink");
    expect(result).toMatchObject({ verdict: "no_output", exitCode: 0, predictions: null });
    expect(result.message).toMatch(/is a symlink, not a regular file/);
  });

  it("stops a model that exceeds the wall clock", async () => {
    const result = await runModel("sleep", { limits: { wallClockMs: 2_000 } });
    expect(result).toMatchObject({
      verdict: "timeout",
      exitCode: null,
      predictions: null,
      log: "sleeping\n",
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(2_000);
    expect(result.durationMs).toBeLessThan(10_000);
  });

  it("reports out_of_memory when the model exceeds its memory limit", async () => {
    const result = await runModel("oom");
    expect(result).toMatchObject({ verdict: "out_of_memory", exitCode: 137, predictions: null });
  });

  it("caps the log to its head and tail, marks the cut, and still drains the model's output", async () => {
    const result = await runModel("chatty", { limits: { logBytes: 1000 } });
    expect(result).toMatchObject({ verdict: "ok", logTruncated: true });
    // 200000 x, a newline and THE-END: the first 750 bytes, then the last 250 (ending in THE-END).
    expect(result.log).toBe(
      `${"x".repeat(750)}\n[holdout: log truncated: 199009 bytes dropped here; the first 750 and the last 250 bytes are kept]\n` +
        `${"x".repeat(241)}\nTHE-END\n`,
    );
    expect(result.predictions?.toString()).toMatch(/^Study,Atelectasis\n/);
  });

  it("limits /out: writing past its size fails with ENOSPC", async () => {
    const result = await runModel("big", { limits: { outputBytes: 1 << 20 } });
    expect(result).toMatchObject({ verdict: "nonzero_exit", predictions: null });
    expect(result.log).toMatch(/No space left on device/);
  });

  it("gives the model a writable, size-capped /tmp and HOME whatever its image's /tmp is", async () => {
    const result = await runModel("scratch", { limits: { tmpBytes: 8 << 20 } });
    expect(result).toMatchObject({ verdict: "ok", exitCode: 0 });
    // The image's own /tmp (0755 root, one file) is neither the mode nor the content the model sees.
    expect(result.log).toContain("tmp=1777 root home=/tmp tmpdir=/tmp\n");
    expect(result.log).toContain("image-files=0\n");
    expect(result.log).toContain("tmp=writable\n");
    expect(result.log).toContain("home=writable\n");
    // head's complaint goes to stdout (2>&1 before the redirect), so it comes before tmp=full: the
    // engine's log does not keep the order of lines written to two different streams.
    expect(result.log).toMatch(/No space left on device\ntmp=full\n/);
  });

  it("kills the model and cleans up when aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancelled by test")), 1_000);
    const started = Date.now();
    await expect(runModel("sleep", { signal: controller.signal })).rejects.toThrow("cancelled by test");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("reapLeftovers", () => {
  it("removes labelled containers and volumes, and only those", async () => {
    const mine = { ...runLabel, "holdout.test.reap": randomUUID() };
    // A deadline far ahead: a worker starting meanwhile (other test files) must leave these alone.
    const labels = { [SANDBOX_LABEL]: "1", "holdout.deadline": String(Date.now() + 3_600_000), ...mine };
    const volume = await docker.createVolume({ Name: `holdout-test-${randomUUID()}`, Labels: labels });
    const container = await docker.createContainer({
      Image: "holdout/base:bookworm",
      Cmd: ["sleep", "infinity"],
      Labels: labels,
      HostConfig: { NetworkMode: "none" },
    });
    await container.start();
    // Not ours to reap here, and with the same deadline: a volume without one is over for any
    // worker's sweep (those of the test files running beside this one too).
    const bystander = await docker.createVolume({
      Name: `holdout-test-${randomUUID()}`,
      Labels: { [SANDBOX_LABEL]: "1", "holdout.deadline": labels["holdout.deadline"], ...runLabel },
    });
    try {
      expect(await reapLeftovers(docker, mine)).toEqual({ containers: 1, volumes: 1 });
      await expect(docker.getVolume(volume.name).inspect()).rejects.toMatchObject({ statusCode: 404 });
      await expect(docker.getVolume(bystander.name).inspect()).resolves.toBeDefined();
    } finally {
      await docker.getVolume(bystander.name).remove();
    }
  });
});

function buildImage(dockerfile: string, script: string): Promise<string> {
  return buildTestImage(docker, dockerfile, {
    files: { "model.sh": script },
    labels: { "holdout.test.run": run },
  });
}
