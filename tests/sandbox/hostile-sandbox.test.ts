import { randomUUID } from "node:crypto";
import type Docker from "dockerode";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, Sandbox, SANDBOX_LABEL, type RunLimits, type RunResult } from "@holdout/sandbox";
import { BASE_IMAGE, TEST_TESTSET_DIR } from "../support/env.ts";
import { buildImage, imageId, removeImage } from "../support/images.ts";

// What a hostile model can do inside the sandbox, run exactly as the worker runs a submission, on the
// shared synthetic test set. Each script is `sh -c SCRIPT test_image_paths.csv /out/predictions.csv`,
// so $0 and $1 are the contract's arguments.

const docker = connectDocker();
const sandbox = new Sandbox(docker, { keeperImage: BASE_IMAGE });
const run = randomUUID().slice(0, 8);
const limits: RunLimits = {
  memoryBytes: 128 << 20,
  pids: 64,
  cpus: 1,
  wallClockMs: 20_000,
  outputBytes: 1 << 20,
  tmpBytes: 8 << 20,
  logBytes: 64 << 10,
  openFiles: 256,
};
let tag: string;
let image: string;

beforeAll(async () => {
  // A setuid-root copy of `id`, to see whether running it gains anything.
  tag = await buildImage(
    [
      `FROM ${BASE_IMAGE}`,
      "RUN cp /usr/bin/id /suid-id && chmod 4755 /suid-id",
      "USER 65534",
      'ENTRYPOINT ["/bin/sh", "-c"]',
    ].join("\n"),
  );
  image = await imageId(tag);
});

afterAll(async () => {
  // The tests run concurrently: only once all are done must nothing be left.
  const filters = JSON.stringify({ label: [`${SANDBOX_LABEL}=1`, `holdout.test.run=${run}`] });
  expect(await docker.listContainers({ all: true, filters }), "containers left").toEqual([]);
  expect((await docker.listVolumes({ filters })).Volumes ?? [], "volumes left").toEqual([]);
});

afterAll(async () => {
  if (tag) await removeImage(tag);
});

function hostile(
  script: string,
  over: Partial<RunLimits> = {},
  signal?: AbortSignal,
  extraLabels: Record<string, string> = {},
): Promise<RunResult> {
  return sandbox.runSubmission({
    imageId: image,
    workspaceHostDir: path.join(TEST_TESTSET_DIR, "public"),
    cmd: [script, "test_image_paths.csv", "/out/predictions.csv"],
    limits: { ...limits, ...over },
    labels: { "holdout.test.run": run, ...extraLabels },
    ...(signal ? { signal } : {}),
  });
}

describe("a hostile model in the sandbox", () => {
  it.concurrent("is created locked down (checked on the live container)", async () => {
    const abort = new AbortController();
    // Its own label: the other tests of this file run concurrently under the same run label.
    const probe = `locked-down-${run}`;
    const running = hostile("sleep 60", {}, abort.signal, { "holdout.test.probe": probe });
    running.catch(() => undefined);
    const filters = JSON.stringify({ label: [`holdout.test.probe=${probe}`, "holdout.role=model"] });
    let c: Awaited<ReturnType<Docker.Container["inspect"]>>;
    let tmpVolume: Docker.VolumeInspectInfo | undefined;
    try {
      let found: { Id: string }[] = [];
      for (let i = 0; i < 100 && found.length === 0; i++) {
        found = await docker.listContainers({ filters });
        if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(found).toHaveLength(1);
      c = await docker.getContainer(found[0]!.Id).inspect();
      const tmp = c.Mounts.find((m) => m.Destination === "/tmp");
      if (tmp?.Name) tmpVolume = await docker.getVolume(tmp.Name).inspect();
    } finally {
      // Even when an assertion above fails, stop the run so the sandbox cleans up before the file ends.
      abort.abort(new Error("inspected"));
    }
    await expect(running).rejects.toThrow("inspected");

    const h = c.HostConfig as typeof c.HostConfig & Record<string, unknown>;
    expect(h.NetworkMode).toBe("none");
    expect((c.Config as { NetworkDisabled?: boolean }).NetworkDisabled).toBe(true);
    expect(h.ReadonlyRootfs).toBe(true);
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.CapAdd ?? []).toEqual([]);
    expect(h.Privileged).toBe(false);
    expect(h.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(JSON.stringify(h.SecurityOpt)).not.toMatch(/unconfined/);
    expect(c.Config.User).toBe("65534:65534");
    expect(h.Init).toBe(true);
    expect(h.PidsLimit).toBe(limits.pids);
    expect(h.Memory).toBe(limits.memoryBytes);
    expect(h.MemorySwap).toBe(limits.memoryBytes);
    expect(h.NanoCpus).toBe(1e9);
    expect(h.CpusetCpus).toMatch(/^\d+$/);
    expect(h.Ulimits).toEqual(
      expect.arrayContaining([
        { Name: "core", Soft: 0, Hard: 0 },
        { Name: "nofile", Soft: 256, Hard: 256 },
        { Name: "fsize", Soft: 9 << 20, Hard: 9 << 20 },
      ]),
    );
    // /tmp: a tmpfs volume of the run's own (a tmpfs mount would take the image's /tmp mode).
    expect(tmpVolume?.Options).toEqual({
      type: "tmpfs",
      device: "tmpfs",
      o: `size=${8 << 20},mode=1777,noexec,nosuid,nodev`,
    });
    expect(tmpVolume?.Labels).toMatchObject({ [SANDBOX_LABEL]: "1" });
    expect(h.Mounts).toEqual(
      expect.arrayContaining([expect.objectContaining({ Target: "/workspace", ReadOnly: true })]),
    );
    expect(h.DeviceRequests ?? []).toEqual([]);
    expect(c.Config.Env).toContain("NVIDIA_VISIBLE_DEVICES=void");
    expect(c.Config.Healthcheck).toEqual({ Test: ["NONE"] });
    expect(c.Config.Labels).toMatchObject({ [SANDBOX_LABEL]: "1", "holdout.role": "model" });
    expect(c.Config.Labels["holdout.run"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(c.Config.Labels["holdout.deadline"])).toBeGreaterThan(Date.now());
  });

  it.concurrent("fork bomb: contained by the pids limit, ends with a verdict", async () => {
    const r = await hostile("b() { b | b & }; b; sleep 2; echo survived; exit 1", { wallClockMs: 6_000 });
    expect(["timeout", "nonzero_exit"]).toContain(r.verdict);
    expect(r.log).toMatch(/fork|Resource temporarily unavailable|Cannot fork/i);
  });

  it.concurrent("memory balloon: out_of_memory", async () => {
    const r = await hostile("head -c 600000000 /dev/zero | tail");
    expect(r.verdict).toBe("out_of_memory");
  });

  it.concurrent("busy loop and sleep forever: timeout", async () => {
    const [busy, sleeper] = await Promise.all([
      hostile("while :; do :; done", { wallClockMs: 2_000 }),
      hostile("exec sleep infinity", { wallClockMs: 2_000 }),
    ]);
    for (const r of [busy, sleeper]) {
      expect(r.verdict).toBe("timeout");
      expect(r.durationMs).toBeLessThan(10_000);
    }
  });

  it.concurrent("TCP and DNS fail: only loopback exists", async () => {
    const r = await hostile(
      [
        "echo interfaces=$(ls /sys/class/net | tr '\\n' ' ')",
        "for target in 1.1.1.1/53 172.17.0.1/2375 10.0.2.2/80; do",
        '  if bash -c "echo > /dev/tcp/$target" 2>/dev/null; then echo "tcp $target=open"; else echo "tcp $target=failed"; fi',
        "done",
        "if getent hosts example.com; then echo dns=resolved; else echo dns=failed; fi",
      ].join("\n"),
    );
    expect(r.log).toContain("interfaces=lo\n");
    expect(r.log).toContain("tcp 1.1.1.1/53=failed");
    expect(r.log).toContain("tcp 172.17.0.1/2375=failed");
    expect(r.log).toContain("tcp 10.0.2.2/80=failed");
    expect(r.log).toContain("dns=failed");
    expect(r.log).not.toMatch(/=open|dns=resolved/);
  });

  it.concurrent("a search of the filesystem and /proc finds no labels and no host path", async () => {
    // Each pattern is assembled in the shell, so that the script's own text (in /proc/self/cmdline)
    // does not contain what it looks for.
    const half = Math.floor(TEST_TESTSET_DIR.length / 2);
    const r = await hostile(
      [
        `host='${TEST_TESTSET_DIR.slice(0, half)}''${TEST_TESTSET_DIR.slice(half)}'`,
        "gt='ground''truth'; nf='No Fin''ding'",
        // File names: the private part's layout.
        "find / -path /proc -prune -o -path /sys -prune -o \\( -name \"*$gt*\" -o -name readers -o -name testset.json -o -name private \\) -print 2>/dev/null | sed 's/^/name: /'",
        // Contents: our label file's header and the host path, in every readable file outside /proc
        // and /sys, then in the text files of /proc that describe this process and its mounts.
        `grep -rIl -e "$nf" -e "$gt" -e "$host" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | sed 's/^/content: /'`,
        `for f in /proc/self/environ /proc/self/cmdline /proc/1/environ /proc/1/cmdline /proc/self/mounts /proc/cmdline; do if tr '\\0' '\\n' < "$f" 2>/dev/null | grep -q -e "$gt" -e "$host"; then echo "proc: $f"; fi; done`,
        `grep -a -e "$host" /proc/self/mountinfo | sed 's/^/mountinfo: /'`,
        "echo searched",
      ].join("\n"),
      { wallClockMs: 60_000 },
    );
    expect(r.log).toContain("searched");
    expect(r.log).not.toMatch(/^(name|content|proc): /m);
    // Known limit of a bind mount: mountinfo names the host directory of public/ (a path, not access
    // to anything). Only that one mount may mention it; moving the test set into a named volume
    // would hide even the path.
    const mentions = r.log.split("\n").filter((l) => l.startsWith("mountinfo: "));
    expect(mentions).toHaveLength(1);
    expect(mentions[0]).toContain(` ${TEST_TESTSET_DIR}/public /workspace ro,`);
  });

  it.concurrent("writes to the root fs, /workspace and elsewhere outside /out and /tmp fail", async () => {
    const r = await hostile(
      [
        "for f in /x /etc/x /workspace/x /workspace/CheXpert-v1.0/x /home/x /var/tmp/x /run/x /root/x; do",
        '  if (echo x > "$f") 2>/dev/null; then echo "wrote $f"; else echo "refused $f"; fi',
        "done",
        'echo ok > /out/probe && echo "wrote /out" ; echo ok > /tmp/probe && echo "wrote /tmp"',
      ].join("\n"),
    );
    expect(r.log).not.toMatch(/^wrote \/(x|etc|workspace|home|var|run|root)/m);
    expect(r.log.match(/^refused /gm)).toHaveLength(8);
    expect(r.log).toContain("wrote /out\n");
    expect(r.log).toContain("wrote /tmp\n");
  });

  it.concurrent("filling /out and /tmp: ENOSPC, and still a verdict", async () => {
    const r = await hostile(
      [
        "head -c 5000000 /dev/zero > /out/fill; echo out=$?",
        "head -c 20000000 /dev/zero > /tmp/fill; echo tmp=$?",
        "exit 0",
      ].join("\n"),
    );
    expect(r.log.match(/No space left on device/g)).toHaveLength(2);
    expect(r.log).toContain("out=1\n");
    expect(r.log).toContain("tmp=1\n");
    expect(r.verdict).toBe("no_output");
  });

  it.concurrent(
    "a 1 GiB log flood: the log stays bounded, head and tail kept, and the run ends",
    async () => {
      const r = await hostile("echo FIRST; head -c 1073741824 /dev/zero; echo; echo LAST; exit 4", {
        wallClockMs: 120_000,
      });
      expect(r.verdict).toBe("nonzero_exit");
      expect(r.logTruncated).toBe(true);
      expect(Buffer.byteLength(r.log)).toBeLessThan(limits.logBytes + 200);
      expect(r.log.startsWith("FIRST\n")).toBe(true);
      expect(r.log.endsWith("\nLAST\n")).toBe(true);
      expect(r.log).toMatch(/\[holdout: log truncated: \d{10} bytes dropped here/);
    },
  );

  it.concurrent("an output that is a symlink to /etc/passwd or a FIFO: no_output", async () => {
    const [link, fifo] = await Promise.all([hostile('ln -s /etc/passwd "$1"'), hostile('mkfifo "$1"')]);
    expect(link).toMatchObject({ verdict: "no_output", predictions: null });
    expect(link.message).toMatch(/symlink, not a regular file/);
    expect(fifo).toMatchObject({ verdict: "no_output", predictions: null });
    expect(fifo.message).toMatch(/fifo, not a regular file/);
  });

  it.concurrent("a setuid-root binary gains nothing: still uid 65534, no capabilities", async () => {
    const r = await hostile(
      "echo euid=$(/suid-id -u) ruid=$(/suid-id -ru); grep -E '^(NoNewPrivs|CapEff|CapPrm|Seccomp):' /proc/self/status",
    );
    expect(r.log).toContain("euid=65534 ruid=65534\n");
    expect(r.log).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(r.log).toMatch(/^CapEff:\s+0+$/m);
    expect(r.log).toMatch(/^CapPrm:\s+0+$/m);
    expect(r.log).toMatch(/^Seccomp:\s+2$/m); // the default profile, filtering
  });
});
