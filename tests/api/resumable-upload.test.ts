import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentPhaseAt } from "@holdout/db";
import { sweepAbandonedUploads } from "../../apps/api/src/services/resumable.ts";
import { BASELINE_TARBALL } from "../support/env.ts";
import { startStack, waitForFinal, type Stack } from "../support/stack.ts";
import { patchThenBreak, settledOffset } from "../support/uploads.ts";

// Resumable uploads (tus 1.0) against the real API, PostgreSQL, Redis and Docker: a connection
// broken mid-upload resumes from the server's offset and the model is scored; the size cap holds on
// the declared length and on the bytes; abandoned uploads are swept with their quota slots.

const b64 = (s: string) => Buffer.from(s).toString("base64");
const metadata = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${b64(v)}`)
    .join(",");

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  url: string,
  method: string,
  token: string,
  headers: Record<string, string>,
  body?: Buffer,
) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "tus-resumable": "1.0.0", ...headers },
    ...(body ? { body } : {}),
  });
  const text = await res.text();
  const isJson = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
  const problem = (isJson ? JSON.parse(text) : {}) as Record<string, unknown>;
  return { status: res.status, headers: res.headers, body: problem } satisfies Answer;
}

async function create(stack: Stack, token: string, meta: Record<string, string>, length: number | null) {
  const res = await call(`${stack.url}/api/v1/uploads`, "POST", token, {
    ...(length === null ? { "upload-defer-length": "1" } : { "upload-length": String(length) }),
    "upload-metadata": metadata(meta),
  });
  return { ...res, location: res.headers.get("location") };
}

const patch = (stack: Stack, token: string, location: string, offset: number, bytes: Buffer, extra = {}) =>
  call(
    `${stack.url}${location}`,
    "PATCH",
    token,
    {
      "upload-offset": String(offset),
      "content-type": "application/offset+octet-stream",
      ...extra,
    },
    bytes,
  );

const head = (stack: Stack, token: string, location: string) =>
  call(`${stack.url}${location}`, "HEAD", token, {});

describe("resumable uploads", () => {
  let stack: Stack;
  let team: { id: string; token: string };
  let tarball: Buffer;

  beforeAll(async () => {
    stack = await startStack({ worker: true, maxUploadBytes: 512 * 1024 ** 2 });
    team = await stack.createTeam();
    tarball = await readFile(BASELINE_TARBALL);
  });
  afterAll(() => stack?.close());

  const reservations = (teamId: string) => stack.db.quotaReservation.count({ where: { teamId } });

  it("a connection broken mid-upload resumes from the server's offset, and the model is scored", async () => {
    const created = await create(stack, team.token, { model: "Resumed baseline" }, tarball.length);
    expect(created.status).toBe(201);
    expect(created.location).toMatch(/^\/api\/v1\/uploads\/[0-9a-f-]{36}$/);
    expect(await reservations(team.id)).toBe(1);

    const half = Math.floor(tarball.length / 2);
    await patchThenBreak(stack.url, team.token, created.location!, tarball, half);
    const offset = await settledOffset(stack.url, team.token, created.location!);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(half);

    // Sending from anywhere else is refused: the server's offset is the only place to resume.
    const wrong = await patch(stack, team.token, created.location!, 0, tarball.subarray(0, 10));
    expect(wrong.status).toBe(409);
    expect(wrong.body.code).toBe("HOLDOUT_ERR_UPLOAD_OFFSET_MISMATCH");

    const rest = await patch(stack, team.token, created.location!, offset, tarball.subarray(offset));
    expect(rest.status).toBe(204);
    const id = rest.headers.get("holdout-submission-id")!;
    expect(id).toBe(created.location!.split("/").pop());
    expect(rest.headers.get("holdout-submission-state")).toBe("queued");

    const row = await stack.db.submission.findUniqueOrThrow({ where: { id } });
    expect(row.uploadSha256).toBe(createHash("sha256").update(tarball).digest("hex"));
    expect(Number(row.uploadSize)).toBe(tarball.length);
    expect(await reservations(team.id)).toBe(0);
    // Nothing of the upload stays in the resumable area once it is a submission.
    expect(await readdir(path.join(stack.dataDir, "resumable"))).toEqual([]);

    // A client whose last answer was lost asks again and learns the upload is complete.
    const again = await head(stack, team.token, created.location!);
    expect(again.status).toBe(200);
    expect(again.headers.get("upload-offset")).toBe(String(tarball.length));
    expect(again.headers.get("holdout-submission-id")).toBe(id);

    const final = await waitForFinal(stack.url, team.token, id);
    expect(final.state).toBe("scored");
  }, 300_000);

  it("validates the metadata at creation, naming the field, and takes no quota slot", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ description: "no model" }, "model"],
      [{ model: "x", kind: "zip" }, "kind"],
      [{ model: "x", command: "python3 run.py" }, "command"],
      [{ model: "x", link: "javascript:alert(1)" }, "link"],
      [{ model: "x", colour: "blue" }, "colour"],
      [{ model: "x", kind: "bundle", command: "python3 run.py | tee log" }, "command"],
    ];
    for (const [meta, field] of cases) {
      const res = await create(stack, team.token, meta, 1000);
      expect(res.status, field).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect((res.body.errors as { field: string }[])[0]!.field).toBe(field);
    }
    expect(await reservations(team.id)).toBe(0);
  });

  it("refuses a declared length over the cap before a byte is sent", async () => {
    const res = await create(stack, team.token, { model: "Too big" }, 512 * 1024 ** 2 + 1);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("HOLDOUT_ERR_UPLOAD_TOO_LARGE");
    expect(await reservations(team.id)).toBe(0);
  });

  it("refuses a wrong file at its first chunk and frees everything", async () => {
    const created = await create(stack, team.token, { model: "Not a tar" }, 10_000);
    const res = await patch(stack, team.token, created.location!, 0, Buffer.alloc(1000, 0x41));
    expect(res.status).toBe(415);
    expect(res.body.code).toBe("HOLDOUT_ERR_UPLOAD_NOT_TAR");
    expect((await head(stack, team.token, created.location!)).status).toBe(404);
    expect(await reservations(team.id)).toBe(0);
    expect(await readdir(path.join(stack.dataDir, "resumable"))).toEqual([]);
  });

  it("other teams cannot see, extend or delete an upload (404), and the owner can abandon it", async () => {
    const other = await stack.createTeam();
    const created = await create(stack, team.token, { model: "Mine" }, tarball.length);
    for (const method of ["HEAD", "PATCH", "DELETE"]) {
      const res = await call(`${stack.url}${created.location}`, method, other.token, {
        "upload-offset": "0",
        "content-type": "application/offset+octet-stream",
      });
      expect(res.status, method).toBe(404);
    }
    expect(await reservations(team.id)).toBe(1);
    const gone = await call(`${stack.url}${created.location}`, "DELETE", team.token, {});
    expect(gone.status).toBe(204);
    expect(await reservations(team.id)).toBe(0);
    expect((await head(stack, team.token, created.location!)).status).toBe(404);
  });
});

describe("resumable uploads: size cap on the bytes, and expiry", () => {
  let stack: Stack;
  let team: { id: string; token: string };

  beforeAll(async () => {
    stack = await startStack({ maxUploadBytes: 64 * 1024 });
    team = await stack.createTeam();
  });
  afterAll(() => stack?.close());

  it("stops a deferred-length upload at the cap, deletes its bytes and gives the slot back", async () => {
    const created = await create(stack, team.token, { model: "Streamed" }, null);
    expect(created.status).toBe(201);
    const tar = Buffer.alloc(100 * 1024);
    tar.write("ustar", 257, "latin1");
    const res = await patch(stack, team.token, created.location!, 0, tar);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("HOLDOUT_ERR_UPLOAD_TOO_LARGE");
    expect(await stack.db.quotaReservation.count({ where: { teamId: team.id } })).toBe(0);
    expect(await readdir(path.join(stack.dataDir, "resumable"))).toEqual([]);
  });

  it("sweeps an abandoned upload once its reservation expires, and the slot with it", async () => {
    const created = await create(stack, team.token, { model: "Abandoned" }, 10_000);
    const tar = Buffer.alloc(1024);
    tar.write("ustar", 257, "latin1");
    expect((await patch(stack, team.token, created.location!, 0, tar)).status).toBe(204);
    const id = created.location!.split("/").pop()!;
    expect(existsSync(path.join(stack.dataDir, "resumable", id))).toBe(true);

    // Still alive: a sweep leaves it alone.
    await sweepAbandonedUploads(stack.db, stack.dataDir);
    expect(existsSync(path.join(stack.dataDir, "resumable", id))).toBe(true);

    // No chunk for the reservation's lifetime: it is gone, bytes, record and slot.
    await stack.db.quotaReservation.update({
      where: { id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const swept = await sweepAbandonedUploads(stack.db, stack.dataDir);
    expect(swept.resumable).toBe(1);
    expect(await readdir(path.join(stack.dataDir, "resumable"))).toEqual([]);
    expect(await stack.db.quotaReservation.count({ where: { id } })).toBe(0);
    expect((await head(stack, team.token, created.location!)).status).toBe(404);
  });

  it("removes the partial multipart files of a dead API process of this host, and frees their slots", async () => {
    // A process that has exited: its pid names the dead API's partial directory.
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid;
    const id = randomUUID();
    await stack.db.quotaReservation.create({
      data: {
        id,
        teamId: team.id,
        phaseId: (await currentPhaseAt(stack.db, stack.competition.id, new Date())).id,
        expiresAt: new Date(Date.now() + 3600_000),
      },
    });
    const dir = path.join(stack.dataDir, "partial", `${os.hostname()}-${dead}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${id}.part`), "half an upload");
    const live = path.join(stack.dataDir, "partial", `${os.hostname()}-${process.ppid}`);
    await mkdir(live, { recursive: true });

    const swept = await sweepAbandonedUploads(stack.db, stack.dataDir);
    expect(swept.partial).toBe(1);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(await stack.db.quotaReservation.count({ where: { id } })).toBe(0);
  });
});
