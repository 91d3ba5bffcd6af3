import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, TEST_TESTSET_DIR } from "./support/env.ts";
import { uploadImage, waitForFinal } from "./support/stack.ts";

// The Compose deployment as an organizer on an air-gapped host runs it: every image built from the
// local Debian base (docker-compose.override.yml), the stack brought up with Debian's
// docker-compose, a team created with the CLI inside the api container, the example model
// submitted over HTTP and scored by the worker through the host's Docker engine, then `down -v`
// leaving no container, volume or network behind. A unique project name and a free loopback port
// keep it apart from everything else on the machine.

const run = promisify(execFile);
const APP_UID = 10001; // docker/app/Dockerfile's user
// The quickest example model: what is under test here is the deployment, not the model.
const EXAMPLE = "holdout/example-constant:latest";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const project = `holdoutct${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
let env: NodeJS.ProcessEnv = {};
let url = "";
let work = "";
let tarball = "";
let up = false;

function compose(args: string[], timeout = 30 * 60_000) {
  return run(
    "docker-compose",
    ["-p", project, "-f", "docker-compose.yml", "-f", "docker-compose.override.yml", ...args],
    { cwd: REPO_ROOT, env, timeout, maxBuffer: 64 * 1024 * 1024 },
  );
}

/** What the engine still holds for this project: containers, volumes, networks. */
async function leftovers(): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const lists = await Promise.all([
    run("docker", ["ps", "-aq", "--filter", label]),
    run("docker", ["volume", "ls", "-q", "--filter", label]),
    run("docker", ["network", "ls", "-q", "--filter", label]),
  ]);
  return lists.flatMap(({ stdout }) => stdout.split("\n").filter(Boolean));
}

async function down() {
  await compose(["down", "-v", "--remove-orphans", "--timeout", "30"], 5 * 60_000);
  up = false;
}

describe("Docker Compose deployment, built with no registry", () => {
  beforeAll(async () => {
    // The base images (debootstrap + docker import) and, if missing, Debian's docker-compose; then
    // every image of the stack is built locally below.
    await run("bash", ["docker/build-images.sh", "--compose"], { cwd: REPO_ROOT, timeout: 20 * 60_000 });
    await run("docker-compose", ["version"]).catch((err: unknown) => {
      throw new Error("Debian's docker-compose is missing: apt-get install -y docker-compose", {
        cause: err,
      });
    });

    // Host paths the worker hands to the sandbox: a private copy of the shared test set and a
    // data directory, both owned by the app's user (the test set's private/ part is 0600).
    work = await mkdtemp(path.join(os.tmpdir(), "holdout-compose-"));
    const testset = path.join(work, "testset");
    const data = path.join(work, "data");
    await run("cp", ["-a", TEST_TESTSET_DIR, testset]);
    await run("mkdir", ["-p", data]);
    await run("chown", ["-R", `${APP_UID}:${APP_UID}`, testset, data]);
    tarball = path.join(work, "constant.tar");
    await run("docker", ["save", "-o", tarball, EXAMPLE]);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      POSTGRES_PASSWORD: randomBytes(12).toString("hex"),
      HOLDOUT_TESTSET_DIR: testset,
      HOLDOUT_DATA_DIR: data,
      DOCKER_GID: String((await stat("/var/run/docker.sock")).gid),
      HOLDOUT_PUBLISH: `127.0.0.1:${port}`,
      HOLDOUT_COMPETITION: "compose-test",
      HOLDOUT_COMPETITION_NAME: "Compose test",
    };
    await compose(["build"]);
    up = true;
    await compose(["up", "-d"], 10 * 60_000);
    // Ready: the migration ran, the API answers and sees PostgreSQL and Redis.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) {
        const { stdout } = await compose(["logs", "--no-color", "--tail", "50"]);
        throw new Error(`the stack did not become ready within 180 s:\n${stdout}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }, 40 * 60_000);

  afterAll(async () => {
    if (up) await down().catch((err: unknown) => console.error("docker-compose down failed", err));
    if (work) await rm(work, { recursive: true, force: true });
  }, 6 * 60_000);

  it(
    "scores the example submitted over HTTP by a team the CLI created in the api container",
    async () => {
      const created = await compose([
        "exec",
        "-T",
        "api",
        "node",
        "apps/cli/bin/holdout.js",
        "team",
        "create",
        "--name",
        "Compose Team",
        "--json",
      ]);
      const { token } = JSON.parse(created.stdout) as { token: string };
      expect(token).toMatch(/\S{20,}/);

      const upload = await uploadImage(url, token, tarball, { model: "constant via compose" });
      expect(upload.status).toBe(202);
      const final = await waitForFinal(url, token, upload.body.id, 8 * 60_000);
      expect(final.failure).toBeNull();
      expect(final.state).toBe("scored");

      // A constant scores 0.5 on every task: scored, and below the competition's AUC floor, so the
      // public leaderboard (served from the same PostgreSQL) does not list it.
      expect(final.meanAuc as number).toBeCloseTo(0.5, 6);
      const board = (await (await fetch(`${url}/api/v1/leaderboard`)).json()) as {
        competition: { slug: string };
        entries: unknown[];
      };
      expect(board).toMatchObject({ competition: { slug: "compose-test" }, entries: [] });
      // The API's metrics see the run (PostgreSQL is shared with the worker) and the upload's bytes.
      // They are on the ops port, which Compose does not publish: read from inside the network.
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      const { stdout: metrics } = await compose([
        "exec",
        "-T",
        "api",
        "node",
        "-e",
        "fetch('http://127.0.0.1:9465/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
      ]);
      expect(metrics).toMatch(/^holdout_runs_total\{outcome="scored"\} 1$/m);
      expect(metrics).toMatch(/^holdout_uploaded_bytes_total\{route="\/api\/v1\/submissions"\} \d{6,}/m);
    },
    15 * 60_000,
  );

  it(
    "reports the api and the worker healthy through their Compose healthchecks (/readyz)",
    async () => {
      // The worker's readiness covers PostgreSQL, Redis and the host's Docker engine through its socket.
      for (const service of ["api", "worker"]) {
        const { stdout: id } = await compose(["ps", "-q", service]);
        const deadline = Date.now() + 120_000;
        let health = { Status: "", Log: [] as { Output: string }[] };
        while (Date.now() < deadline) {
          const { stdout } = await run("docker", [
            "inspect",
            "--format",
            "{{json .State.Health}}",
            id.trim(),
          ]);
          health = JSON.parse(stdout) as typeof health;
          if (health.Status === "healthy") break;
          await new Promise((r) => setTimeout(r, 2000));
        }
        expect(health.Status, `${service}: ${JSON.stringify(health.Log.slice(-3))}`).toBe("healthy");
      }
    },
    5 * 60_000,
  );

  it("runs the API and the worker as the unprivileged app user, with a read-only root", async () => {
    for (const service of ["api", "worker"]) {
      const { stdout } = await compose(["exec", "-T", service, "id", "-u"]);
      expect(stdout.trim()).toBe(String(APP_UID));
      const write = await compose(["exec", "-T", service, "touch", "/app/written"]).then(
        () => "written",
        (err: { stderr?: string }) => err.stderr ?? "",
      );
      expect(write).toMatch(/Read-only file system|Permission denied/);
    }
  });

  it(
    "comes down with -v leaving no container, volume or network",
    async () => {
      expect((await leftovers()).length).toBeGreaterThan(0);
      await down();
      expect(await leftovers()).toEqual([]);
    },
    6 * 60_000,
  );
});
