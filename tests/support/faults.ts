import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { REPO_ROOT } from "./env.ts";
import { baseEnv, freePort, spawnProcess, type Proc } from "./processes.ts";

/**
 * Private instances of the services a fault test kills: its own redis-server, PostgreSQL cluster
 * or Docker engine, on a free port or socket of its own, so restarting one never touches the
 * shared services other tests (and other people's tests) are using at the same time.
 */

export interface PrivateRedis {
  url: string;
  /** Kills the server (SIGKILL: it keeps nothing) and starts an empty one on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const start = async (): Promise<Proc> => {
    const proc = spawnProcess(`redis:${port}`, "redis-server", [...args, "--daemonize", "no"], {
      env: baseEnv(),
    });
    await proc.waitForLine(/Ready to accept connections/, 30_000);
    return proc;
  };
  let proc = await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await proc.stop("SIGKILL");
      proc = await start();
    },
    async close() {
      await proc.stop("SIGKILL");
    },
  };
}

export interface PrivatePostgres {
  /** postgresql://holdout@127.0.0.1:<port>/holdout, migrated. */
  url: string;
  /** Another migrated database in the same cluster (another deployment's); returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server: `fast` (SIGINT, a clean shutdown) or `immediate` (SIGQUIT, as a crash). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  restart(mode?: "fast" | "immediate"): Promise<void>;
  close(): Promise<void>;
}

/** The newest PostgreSQL server binaries Debian installed (/usr/lib/postgresql/<major>/bin). */
function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(path.join(root, d, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors[0] === undefined)
    throw new Error(`no PostgreSQL server under ${root}: apt-get install postgresql`);
  return path.join(root, majors[0], "bin");
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` account Debian creates. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error("running as root, but there is no postgres user");
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const user = postgresUser();
  const dir = await mkdtemp(path.join(os.tmpdir(), "holdout-pg-"));
  const dataDir = path.join(dir, "data");
  await mkdir(dataDir, { mode: 0o700 });
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chown(dataDir, user.uid, user.gid);
  }
  const as = { env: baseEnv(), cwd: dir, ...user };
  const initdb = spawnProcess(
    "initdb",
    path.join(bin, "initdb"),
    ["-D", dataDir, "-A", "trust", "-U", "holdout", "--no-sync", "--no-locale", "-E", "UTF8"],
    as,
  );
  const status = await initdb.exited;
  if (status.code !== 0)
    throw new Error(`initdb failed (${status.code ?? status.signal}):\n${initdb.output()}`);

  const port = await freePort();
  // fsync off: a test cluster on a healthy host; an immediate stop still recovers from the WAL.
  const args = ["-D", dataDir, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"];
  const serverArgs = [...args, "-c", "fsync=off", "-c", "max_connections=200"];
  let proc: Proc | null = null;
  const start = async () => {
    if (proc?.isRunning()) return;
    proc = spawnProcess(`postgres:${port}`, path.join(bin, "postgres"), serverArgs, as);
    await proc.waitForLine(/database system is ready to accept connections/, 60_000);
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await proc?.stop(mode === "fast" ? "SIGINT" : "SIGQUIT", 30_000);
  };
  const createDatabase = async (name: string): Promise<string> => {
    const admin = new pg.Client({ connectionString: `postgresql://holdout@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    const url = `postgresql://holdout@127.0.0.1:${port}/${name}`;
    await migrate(url);
    return url;
  };
  try {
    await start();
    await createDatabase("holdout");
  } catch (err) {
    await stop("immediate");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgresql://holdout@127.0.0.1:${port}/holdout`,
    createDatabase,
    stop,
    start,
    async restart(mode) {
      await stop(mode);
      await start();
    },
    async close() {
      await stop("immediate");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Applies prisma/migrations/<name>/migration.sql in order, as `prisma migrate deploy` would. */
async function migrate(url: string): Promise<void> {
  const root = path.join(REPO_ROOT, "prisma", "migrations");
  const names = readdirSync(root)
    .filter((d) => existsSync(path.join(root, d, "migration.sql")))
    .sort();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const name of names)
      await client.query(await readFile(path.join(root, name, "migration.sql"), "utf8"));
  } finally {
    await client.end();
  }
}

export interface PrivateDocker {
  /** The engine's socket path, for DOCKER_SOCKET and `docker -H unix://…`. */
  socket: string;
  /** `docker` CLI against this engine. */
  cli(args: string[]): Promise<string>;
  /** Copies images from the shared engine (docker save | docker load). */
  loadImages(images: string[]): Promise<void>;
  /** Stops the engine as `systemctl stop docker` would (SIGTERM, it stops its containers). */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Runs a command; rejects with its stderr when it fails. */
export function runCommand(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")} failed (${code}): ${err}`)),
    );
  });
}

/**
 * A second Docker engine with its own data root, exec root (so its own managed containerd, in
 * namespaces of its own), socket and pid file, and no networking of its own (no bridge, no
 * iptables, in its own network namespace): sandbox runs use no network. Shares the kernel and cgroup tree with the main engine,
 * under container ids that cannot collide.
 */
export async function startPrivateDocker(): Promise<PrivateDocker> {
  // Unix socket paths are limited to 108 bytes: keep the directory short.
  const dir = await mkdtemp(path.join(os.tmpdir(), "hdk-"));
  const socket = path.join(dir, "docker.sock");
  const ns = path.basename(dir).toLowerCase();
  const args = [
    ["--data-root", path.join(dir, "data")],
    ["--exec-root", path.join(dir, "exec")],
    ["--pidfile", path.join(dir, "docker.pid")],
    ["-H", `unix://${socket}`],
    ["--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false"],
    ["--containerd-namespace", `${ns}`, "--containerd-plugins-namespace", `${ns}-plugins`],
  ].flat();
  let proc: Proc | null = null;
  const cli = (cliArgs: string[]) => runCommand("docker", ["-H", `unix://${socket}`, ...cliArgs]);
  const start = async () => {
    if (proc?.isRunning()) return;
    // In a network namespace of its own: an engine started with --bridge=none deletes the
    // `docker0` interface of the namespace it runs in, which would break the shared engine.
    proc = spawnProcess(`dockerd:${ns}`, "unshare", ["--net", "--", "dockerd", ...args], { env: baseEnv() });
    await proc.waitForLine(/API listen on/, 60_000);
  };
  const stop = async () => {
    // Past its containers' stop timeouts the engine must be gone; SIGKILL only if it hangs.
    await proc?.stop("SIGTERM", 60_000);
  };
  const close = async () => {
    if (proc?.isRunning()) {
      const ids = (await cli(["ps", "-aq"]).catch(() => "")).split("\n").filter(Boolean);
      if (ids.length > 0) await cli(["rm", "-f", ...ids]).catch(() => undefined);
    }
    await stop();
    // Never delete through a mount that is still there (an overlay or a bind of the test set).
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await runCommand("umount", ["-l", m]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    socket,
    cli,
    async loadImages(images) {
      for (const image of images) {
        await new Promise<void>((resolve, reject) => {
          const save = spawn("docker", ["save", image], { stdio: ["ignore", "pipe", "inherit"] });
          const load = spawn("docker", ["-H", `unix://${socket}`, "load", "-q"], {
            stdio: ["pipe", "ignore", "inherit"],
          });
          save.stdout.pipe(load.stdin);
          save.on("error", reject);
          load.on("error", reject);
          load.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`loading ${image} failed`))));
        });
      }
    },
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    close,
  };
}

/** Container and volume names on an engine carrying `label` (key=value); empty when all is clean. */
export async function labelledObjects(
  label: string,
  socket?: string,
): Promise<{ containers: string[]; volumes: string[] }> {
  const host = socket ? ["-H", `unix://${socket}`] : [];
  const lines = (s: string) => s.split("\n").filter(Boolean);
  const containers = await runCommand("docker", [
    ...host,
    "ps",
    "-a",
    "--filter",
    `label=${label}`,
    "--format",
    "{{.Names}} {{.Status}}",
  ]);
  const volumes = await runCommand("docker", [...host, "volume", "ls", "-q", "--filter", `label=${label}`]);
  return { containers: lines(containers), volumes: lines(volumes) };
}

/** Removes every container and volume carrying `label` (test cleanup after a failure). */
export async function removeLabelled(label: string, socket?: string): Promise<void> {
  const host = socket ? ["-H", `unix://${socket}`] : [];
  const ids = (await runCommand("docker", [...host, "ps", "-aq", "--filter", `label=${label}`]))
    .split("\n")
    .filter(Boolean);
  if (ids.length > 0) await runCommand("docker", [...host, "rm", "-f", "-v", ...ids]);
  const volumes = (await runCommand("docker", [...host, "volume", "ls", "-q", "--filter", `label=${label}`]))
    .split("\n")
    .filter(Boolean);
  if (volumes.length > 0) await runCommand("docker", [...host, "volume", "rm", "-f", ...volumes]);
}
