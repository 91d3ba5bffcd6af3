import { openAsBlob } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker } from "@holdout/sandbox";
import { loadWorkerConfig, startWorker, type RunningWorker } from "@holdout/worker";
import { BASE_IMAGE, BASELINE_IMAGE, TEST_ARTIFACTS_DIR, uniqueName } from "../support/env.ts";
import {
  buildImage,
  CONSTANT_PREDICTIONS,
  imageId,
  removeImage,
  tarBuffer,
  tinyShellModelTarball,
} from "../support/images.ts";
import { until } from "../support/predictions.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

const docker = connectDocker();

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A worker of the stack whose log lines the test reads (the start line names its ops URL). */
async function loggedWorker(stack: Stack, env: Record<string, string>) {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n").filter(Boolean))
        lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  const name = uniqueName("engine-worker");
  const config = loadWorkerConfig(
    stack.workerEnv({ HOLDOUT_OPS_PORT: "0", HOLDOUT_WORKER_NAME: name, ...env }),
  );
  const worker = await startWorker(config, pino({ level: "info" }, sink));
  const started = lines.find((l) => l.msg === "worker started");
  if (!started) throw new Error("no start line in the worker's log");
  return { worker, name, lines, started, ops: String(started.ops) };
}

/** Container creations on the engine by this worker since `since` (epoch s): the image each asked for. */
async function createdImages(worker: string, since: number): Promise<{ role: string; image: string }[]> {
  const stream = await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: JSON.stringify({
      type: ["container"],
      event: ["create"],
      label: [`holdout.worker=${worker}`],
    }),
  });
  let text = "";
  for await (const chunk of stream) text += String(chunk);
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Actor: { Attributes: Record<string, string> } })
    .map(({ Actor: { Attributes: a } }) => ({ role: a["holdout.role"] ?? "", image: a.image ?? "" }));
}

/** A code bundle whose model needs python3 (the runtime image has it; the base image has none). */
async function pythonBundle(): Promise<string> {
  const predict = [
    "import csv, re, sys",
    "studies = {}",
    "with open(sys.argv[1]) as f:",
    "    for row in csv.DictReader(f):",
    '        studies[re.sub(r"/view\\d+_[a-z]+\\.jpg$", "", row["Path"])] = True',
    'with open(sys.argv[2], "w") as f:',
    '    f.write("Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion\\n")',
    "    for s in studies:",
    '        f.write(s + ",0.5,0.5,0.5,0.5,0.5\\n")',
    "",
  ].join("\n");
  const file = path.join(TEST_ARTIFACTS_DIR, `${uniqueName("python-bundle")}.tar.gz`);
  await writeFile(file, gzipSync(await tarBuffer({ "src/predict.py": predict })));
  return file;
}

// Our own images (the keeper, the bundles' runtime) are pinned to their IDs when the worker starts,
// and everything of ours is created from those IDs: a tag moved afterwards changes nothing that
// runs. The worker says which image store its engine uses, and what it pinned, at start and in
// /readyz; short of disk space it is not ready and starts no load.
describe("the worker and its engine", () => {
  let stack: Stack;
  const running: RunningWorker[] = [];
  const tags: string[] = [];
  const files: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ quota: { perDay: 50, total: 50 } });
  });
  afterAll(async () => {
    for (const w of running) await w.close();
    // Tags only (the images they named are shared or already gone); a tag already gone is fine.
    for (const tag of tags) await removeImage(tag).catch(() => undefined);
    for (const file of files) await rm(file, { force: true });
    await stack?.close();
  });

  it(
    "reports the image store, the pinned image IDs and free space at start and in /readyz",
    { timeout: 60_000 },
    async () => {
      const { worker, started, ops } = await loggedWorker(stack, {});
      running.push(worker);
      try {
        const info = (await docker.info()) as { Driver: string; DriverStatus: [string, string][] | null };
        const containerd = (info.DriverStatus ?? []).some(
          ([k, v]) => k === "driver-type" && v.includes("snapshotter"),
        );
        const engine = {
          imageStore: containerd ? "containerd" : "classic",
          storageDriver: info.Driver,
          images: {
            keeper: { ref: BASE_IMAGE, id: await imageId(BASE_IMAGE) },
            runtime: { ref: BASELINE_IMAGE, id: await imageId(BASELINE_IMAGE) },
          },
        };
        expect(started).toMatchObject(engine);
        expect(started.disk).toMatchObject({ minFreeMb: 2048 });
        const res = await fetch(`${ops}/readyz`);
        expect(res.status).toBe(200);
        const ready = (await res.json()) as Record<string, unknown>;
        expect(ready).toMatchObject({
          status: "ready",
          checks: { postgres: "ok", redis: "ok", docker: "ok", images: "ok", disk: "ok" },
          ...engine,
        });
        const disk = ready.disk as { dockerRootFreeMb: number; workDirFreeMb: number };
        expect(disk.workDirFreeMb).toBeGreaterThan(2048);
        expect(disk.dockerRootFreeMb).toBeGreaterThan(2048);
      } finally {
        await worker.close();
      }
    },
  );

  it(
    "keeps running the images it pinned at start when their tags are moved onto another image",
    { timeout: 300_000 },
    async () => {
      // Copies of the keeper's and the runtime's tags, so that moving them touches nothing shared.
      const keeperRepo = `holdout-test/${uniqueName("keeper")}`;
      const runtimeRepo = `holdout-test/${uniqueName("runtime")}`;
      const [keeperTag, runtimeTag] = [`${keeperRepo}:latest`, `${runtimeRepo}:latest`];
      tags.push(keeperTag, runtimeTag);
      await docker.getImage(BASE_IMAGE).tag({ repo: keeperRepo, tag: "latest" });
      await docker.getImage(BASELINE_IMAGE).tag({ repo: runtimeRepo, tag: "latest" });
      const since = Math.floor(Date.now() / 1000) - 1;
      const { worker, name } = await loggedWorker(stack, {
        HOLDOUT_KEEPER_IMAGE: keeperTag,
        HOLDOUT_RUNTIME_IMAGE: runtimeTag,
      });
      running.push(worker);

      // An impostor for both: its `sleep` returns at once (a keeper from it would drop /out as the
      // model exits), and it has no python3 (a bundle run in it fails).
      const impostor = await buildImage(
        `FROM ${BASE_IMAGE}\nRUN printf '#!/bin/sh\\nexit 0\\n' > /usr/bin/sleep\n`,
        "impostor",
      );
      tags.push(impostor);
      const impostorId = await imageId(impostor);
      await docker.getImage(impostorId).tag({ repo: keeperRepo, tag: "latest" });
      await docker.getImage(impostorId).tag({ repo: runtimeRepo, tag: "latest" });
      expect(await imageId(keeperTag)).toBe(impostorId);
      expect(await imageId(runtimeTag)).toBe(impostorId);

      const { token } = await stack.createTeam();
      const image = await uploadImage(stack.url, token, await tinyShellModelTarball(CONSTANT_PREDICTIONS), {
        model: uniqueName("pinned-keeper"),
      });
      const fd = new FormData();
      fd.append("model", uniqueName("pinned-runtime"));
      const bundleFile = await pythonBundle();
      files.push(bundleFile);
      fd.append("bundle", await openAsBlob(bundleFile), "bundle.tar.gz");
      const bundle = (await (
        await fetch(`${stack.url}/api/v1/submissions`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: fd,
        })
      ).json()) as { id: string };
      for (const id of [image.body.id, bundle.id]) {
        const final = await waitForFinal(stack.url, token, id);
        expect(final.failure, `submission ${id}`).toBeNull();
        expect(final.state).toBe("scored");
      }

      // Every container this worker created (keepers, the image's and the bundle's models) asked
      // for an image by ID: the pinned keeper and runtime, or the loaded upload; never a tag.
      const created = await createdImages(name, since);
      const keeperId = await imageId(BASE_IMAGE);
      const runtimeId = await imageId(BASELINE_IMAGE);
      expect(created.filter((c) => c.role === "keeper").length).toBeGreaterThanOrEqual(4);
      for (const c of created) expect(c.image).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(new Set(created.filter((c) => c.role === "keeper").map((c) => c.image))).toEqual(
        new Set([keeperId]),
      );
      expect(created.map((c) => c.image)).toContain(runtimeId);
      expect(created.map((c) => c.image)).not.toContain(impostorId);
      await worker.close();
    },
  );

  it(
    "short of disk space: not ready, and a submission waits in the queue, uncharged, until a worker has room",
    { timeout: 300_000 },
    async () => {
      // A reserve larger than any disk here: every filesystem is "short".
      const { worker, lines, ops } = await loggedWorker(stack, { HOLDOUT_DISK_MIN_FREE_MB: "100000000" });
      running.push(worker);
      const res = await fetch(`${ops}/readyz`);
      expect(res.status).toBe(503);
      const problem = (await res.json()) as Record<string, unknown>;
      expect(problem).toMatchObject({
        code: "HOLDOUT_ERR_NOT_READY",
        detail: "not ready: disk low on free space",
        checks: { disk: "down", docker: "ok" },
        disk: { minFreeMb: 100000000 },
      });

      const { token } = await stack.createTeam();
      const { body } = await uploadImage(
        stack.url,
        token,
        await tinyShellModelTarball(CONSTANT_PREDICTIONS),
        {
          model: uniqueName("no-room"),
        },
      );
      const warning = await until("the worker to put the submission back", () =>
        Promise.resolve(
          lines.find(
            (l) => l.submissionId === body.id && l.msg.startsWith("not starting: too little free disk"),
          ),
        ),
      );
      expect(String(warning.problem)).toMatch(
        /data root .* has \d+ MiB free, a load needs \d+ MiB and 100000000 MiB must stay free/,
      );
      const job = await until("the job to wait, delayed", async () => {
        const j = await stack.queue.getJob(body.id);
        return (await j?.getState()) === "delayed" ? j : undefined;
      });
      // Not started, so nothing used up: no attempt, no failure, still queued.
      expect(job?.attemptsMade).toBe(0);
      const status = (await (
        await fetch(`${stack.url}/api/v1/submissions/${body.id}`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as { state: string; failure: unknown };
      expect(status).toMatchObject({ state: "queued", failure: null });
      await worker.close();

      // A worker with room takes it once its delay is over (promoted here rather than waited for).
      await stack.startWorker();
      await job?.promote();
      const final = await waitForFinal(stack.url, token, body.id);
      expect(final.state).toBe("scored");
    },
  );
});
