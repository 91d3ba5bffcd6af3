import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/env.ts";
import { GuideShell, guideSteps, sessionParts, type GuideStep } from "../support/guide.ts";
import { baseEnv, Cleanup, freePort } from "../support/processes.ts";

// The organizer guide (docs/organizer-guide.md), run as written: its marked blocks, pasted in order
// into a root shell in a copy of this checkout, from an empty data directory to the example model
// scored (smoke run, then hidden run), upgraded, backed up, restored after losing everything, and
// torn down to nothing. Only the guide's own settings differ: a scratch directory, free loopback
// ports, and a project name and image tag of this run, so that nothing else on the Docker engine
// is touched. If the guide and the deployment drift apart, this fails at the step that broke.

const run = promisify(execFile);
const APP_UID = 10001; // docker/app/Dockerfile's user
const MIN = 60_000;

// Every step of the guide, in its order: null runs it; a reason says why this test cannot.
const PLAN: [string, string | null][] = [
  ["prerequisites-debian", "installs system packages (scripts/setup.sh installs them here)"],
  ["prerequisites-ubuntu", "for Ubuntu hosts; this one is Debian"],
  ["prerequisites-node", "installs NodeSource's Node.js, which runs this test already"],
  ["checkout", "the test works in a copy of this checkout, its node_modules included"],
  ["settings", null],
  ["build", null],
  ["test-sets", null],
  ["start", null],
  ["organizer", null],
  ["verify", null],
  ["new-shell", null],
  ["upgrade-code", "git pull and npm ci: the test changes a source file of its copy instead"],
  ["upgrade", null],
  ["backup", null],
  ["restore", null],
  ["teardown", null],
  ["remove-shared", "removes the images and build cache every user of this Docker engine shares"],
];

const steps = guideSteps(readFileSync(path.join(REPO_ROOT, "docs", "organizer-guide.md"), "utf8"));
const step = (name: string): GuideStep => {
  const found = steps.find((s) => s.name === name);
  if (!found) throw new Error(`the guide has no step ${name}`);
  return found;
};

const id = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
const project = `holdoutguide${id}`;
const tag = `guide-${id}`;
let work = "";
let checkout = "";
let dirs = { testset: "", devset: "", data: "", backup: "" };
let api = "";
let ops = "";
let shell: GuideShell | undefined;
let team = { token: "", submission: "" };
let tornDown = false;

/** One organizer's session. */
const part = sessionParts();

const ran: string[] = [];
const timings: string[] = [];

async function runSteps(...names: string[]) {
  for (const name of names) {
    const started = Date.now();
    await shell!.run(step(name), (name === "build" ? 25 : 10) * MIN);
    ran.push(name);
    timings.push(`${name} ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
}

function compose(args: string[]) {
  return run("docker-compose", args, { cwd: checkout, env: baseEnv(), maxBuffer: 16 * 1024 * 1024 });
}

async function lines(cmd: string, args: string[]): Promise<string[]> {
  const { stdout } = await run(cmd, args);
  return stdout.split("\n").filter(Boolean);
}

/** What the engine still holds of this run: containers, volumes, networks, images, build stages. */
async function leftovers(): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const found = await Promise.all([
    lines("docker", ["ps", "-aq", "--filter", label]),
    lines("docker", ["volume", "ls", "-q", "--filter", label]),
    lines("docker", ["network", "ls", "-q", "--filter", label]),
    lines("docker", ["images", "-aq", "--filter", `label=holdout.tag=${tag}`]),
    lines("docker", ["images", "-q", "--filter", `reference=holdout/*:${tag}`]),
  ]);
  return found.flat();
}

/** Untagged images of this run's builds: stages, or app images an upgrade replaced. */
function buildLeftovers(): Promise<string[]> {
  return lines("docker", [
    "images",
    "-aq",
    "--filter",
    "dangling=true",
    "--filter",
    `label=holdout.tag=${tag}`,
  ]);
}

async function appImage(): Promise<string> {
  return (await lines("docker", ["image", "inspect", "--format", "{{.Id}}", `holdout/app:${tag}`]))[0] ?? "";
}

/** The worker's environment as Compose set it: the smoke run needs HOLDOUT_DEVSET_DIR. */
async function workerEnv(): Promise<string[]> {
  const { stdout } = await compose(["ps", "-q", "worker"]);
  return lines("docker", ["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", stdout.trim()]);
}

async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

interface Submission {
  state: string;
  meanAuc: number | null;
  failure: unknown;
}

describe("the organizer guide, run as written", () => {
  beforeAll(async () => {
    // The guide's checkout: this working tree's files as git sees them, and its node_modules
    // (hard links where possible: nothing in the guide's path writes into it).
    work = await mkdtemp(path.join(os.tmpdir(), "holdout-guide-"));
    checkout = path.join(work, "holdout");
    await mkdir(checkout);
    const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    const files = stdout.split("\0").filter((f) => f && existsSync(path.join(REPO_ROOT, f)));
    writeFileSync(path.join(work, "files"), files.join("\0"));
    await run("tar", [
      "-C",
      REPO_ROOT,
      "--null",
      "-T",
      path.join(work, "files"),
      "-cf",
      path.join(work, "src.tar"),
    ]);
    await run("tar", ["-C", checkout, "-xf", path.join(work, "src.tar")]);
    await rm(path.join(work, "src.tar"));
    const modules = [path.join(REPO_ROOT, "node_modules"), path.join(checkout, "node_modules")];
    await run("cp", ["-al", ...modules]).catch(() => run("cp", ["-a", ...modules]));

    dirs = {
      testset: path.join(work, "srv", "testset"),
      devset: path.join(work, "srv", "devset"),
      data: path.join(work, "data"),
      backup: path.join(work, "backup"),
    };
    const [apiPort, opsPort] = [await freePort(), await freePort()];
    api = `http://127.0.0.1:${apiPort}`;
    ops = `http://127.0.0.1:${opsPort}`;
    shell = GuideShell.start(
      checkout,
      {
        ...baseEnv(),
        COMPOSE_PROJECT_NAME: project,
        HOLDOUT_TAG: tag,
        HOLDOUT_TESTSET_DIR: dirs.testset,
        HOLDOUT_DEVSET_DIR: dirs.devset,
        HOLDOUT_DATA_DIR: dirs.data,
        HOLDOUT_BACKUP_DIR: dirs.backup,
        HOLDOUT_PUBLISH: `127.0.0.1:${apiPort}`,
        HOLDOUT_OPS_PUBLISH: `127.0.0.1:${opsPort}`,
      },
      work,
    );
  });

  afterAll(async () => {
    console.info(`the guide's steps took: ${timings.join(", ")}`);
    const cleanup = new Cleanup();
    if (work) cleanup.add("remove the scratch directory", () => rm(work, { recursive: true, force: true }));
    if (checkout && !tornDown) {
      // A part failed: take down what it left, by this run's project name and tag only (the
      // shared PostgreSQL, Redis and base images stay). The settings are passed in case .env is gone.
      cleanup.add("prune this run's build stages", () =>
        run("docker", ["image", "prune", "--force", "--filter", `label=holdout.tag=${tag}`]),
      );
      cleanup.add("remove this run's app image", async () => {
        if ((await lines("docker", ["images", "-q", `holdout/app:${tag}`])).length > 0) {
          await run("docker", ["rmi", `holdout/app:${tag}`]);
        }
      });
      cleanup.add("docker-compose down", () =>
        run("docker-compose", ["down", "--volumes", "--remove-orphans"], {
          cwd: checkout,
          env: {
            ...baseEnv(),
            COMPOSE_PROJECT_NAME: project,
            COMPOSE_FILE: "docker-compose.yml:docker-compose.override.yml:docker-compose.devset.yml",
            HOLDOUT_TAG: tag,
            POSTGRES_PASSWORD: "unused",
            DOCKER_GID: "0",
            HOLDOUT_TESTSET_DIR: dirs.testset,
            HOLDOUT_DEVSET_DIR: dirs.devset,
          },
        }),
      );
    }
    if (shell) cleanup.add("stop the shell", () => shell!.close());
    await cleanup.run();
  }, 10 * MIN);

  it("knows every step of the guide, in the guide's order", () => {
    expect(steps.map((s) => s.name)).toEqual(PLAN.map(([name]) => name));
  });

  part(
    "settings, images, test sets: the stack starts and is healthy, no build stage left",
    40 * MIN,
    async () => {
      await runSteps("settings", "build", "test-sets", "start");

      expect(statSync(path.join(checkout, ".env")).mode & 0o777).toBe(0o600);
      expect(await buildLeftovers()).toEqual([]);
      for (const set of [dirs.testset, dirs.devset]) {
        const priv = statSync(path.join(set, "private", "groundtruth.csv"));
        expect([priv.uid, priv.mode & 0o777]).toEqual([APP_UID, 0o400]);
        expect(statSync(path.join(set, "public", "test_image_paths.csv")).mode & 0o004).toBe(0o004);
      }
      // The API and the worker's ops port are published on loopback only, and both answer ready.
      for (const [service, port] of [
        ["api", "8080"],
        ["worker", "9464"],
      ] as const) {
        const { stdout } = await compose(["port", service, port]);
        expect(stdout.trim()).toMatch(/^127\.0\.0\.1:\d+$/);
      }
      await getJson(`${api}/readyz`);
      const ready = await getJson<{ status: string; disk?: { dockerRootFreeMb: unknown } }>(`${ops}/readyz`);
      expect(ready).toMatchObject({ status: "ready" });
      // The engine's data root is mounted read-only: its free space is checked before loads.
      expect(ready.disk?.dockerRootFreeMb, JSON.stringify(ready)).toEqual(expect.any(Number));
    },
  );

  part(
    "the organizer signs in; the example is scored after its smoke run, then hidden",
    15 * MIN,
    async () => {
      await runSteps("organizer", "verify");

      const [email, password] = [
        await shell!.value("ORGANIZER_EMAIL"),
        await shell!.value("ORGANIZER_PASSWORD"),
      ];
      const login = await fetch(`${api}/api/v1/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password }),
      });
      expect(login.status).toBe(200);
      const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const me = await fetch(`${api}/api/v1/session`, { headers: { cookie } });
      expect(await me.json()).toMatchObject({ role: "organizer" });

      team = { token: await shell!.value("TEAM_TOKEN"), submission: await shell!.value("SUBMISSION") };
      const { token, submission } = team;
      const scored = await getJson<Submission>(`${api}/api/v1/submissions/${submission}`, token);
      expect(scored).toMatchObject({ state: "scored", failure: null });
      expect(scored.meanAuc).toBeGreaterThan(0.7);
      const { events } = await getJson<{ events: { detail: string | null }[] }>(
        `${api}/api/v1/submissions/${submission}/events`,
        token,
      );
      const at = (text: string) => events.findIndex((e) => e.detail?.startsWith(text));
      expect(at("smoke run passed")).toBeGreaterThan(-1);
      expect(at("hidden run started")).toBeGreaterThan(at("smoke run passed"));
      // Hidden: the public leaderboard does not list it.
      expect(await getJson(`${api}/api/v1/leaderboard`)).toMatchObject({ entries: [] });
      // Metrics are never on the API's public port (the API's ops port is on the Compose network).
      expect((await fetch(`${api}/metrics`)).status).toBe(404);
      // Prometheus would see both runs on the worker's published ops port.
      const metrics = await (await fetch(`${ops}/metrics`)).text();
      expect(metrics).toMatch(/^holdout_worker_runs_total\{phase="smoke",outcome="ok"\} 1$/m);
      expect(metrics).toMatch(/^holdout_worker_runs_total\{phase="hidden",outcome="ok"\} 1$/m);
    },
  );

  part(
    "upgrade from a new shell: a new app image, the one it replaced removed, smoke runs kept",
    15 * MIN,
    async () => {
      // A new shell knows only where the checkout is: everything else must come from .env.
      await shell!.close();
      shell = GuideShell.start(os.homedir(), { ...baseEnv(), HOLDOUT_HOME: checkout }, work);
      await runSteps("new-shell");
      const before = await appImage();
      await appendFile(path.join(checkout, "apps", "api", "src", "server.ts"), "// the next release\n");

      await runSteps("upgrade");

      expect(await appImage()).not.toBe(before);
      await expect(run("docker", ["image", "inspect", before])).rejects.toThrow(/No such image/);
      expect(await buildLeftovers()).toEqual([]);
      expect(await workerEnv()).toContain(`HOLDOUT_DEVSET_DIR=${dirs.devset}`);
    },
  );

  part(
    "backup, then everything lost but .env, images and test sets: the restore brings the scores back",
    15 * MIN,
    async () => {
      await runSteps("backup");
      const { token, submission } = team;
      const before = await getJson<Submission>(`${api}/api/v1/submissions/${submission}`, token);

      // The disaster: the database and the queue (volumes), and the uploads.
      await compose(["down", "--volumes"]);
      await rm(path.join(dirs.data, "uploads"), { recursive: true, force: true });

      await runSteps("restore");

      const after = await getJson<Submission>(`${api}/api/v1/submissions/${submission}`, token);
      expect(after).toEqual(before);
      expect(existsSync(path.join(dirs.data, "uploads"))).toBe(true);
      expect(await workerEnv()).toContain(`HOLDOUT_DEVSET_DIR=${dirs.devset}`);
    },
  );

  part("tear down and clean up: nothing of this run is left", 10 * MIN, async () => {
    expect((await leftovers()).length).toBeGreaterThan(0);
    await runSteps("teardown");
    tornDown = true;
    expect(await leftovers()).toEqual([]);
    for (const dir of [dirs.data, dirs.testset, dirs.devset, path.join(checkout, ".env")]) {
      expect(existsSync(dir), dir).toBe(false);
    }
    // Every step the plan says it runs, it ran.
    expect(ran).toEqual(PLAN.filter(([, reason]) => reason === null).map(([name]) => name));
  });
});
