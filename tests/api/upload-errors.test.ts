import { readdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarBuffer } from "../support/images.ts";
import { formOf } from "../support/forms.ts";
import { startStack, type Stack } from "../support/stack.ts";

// Every rejected upload must answer problem+json naming what is wrong, and leave no row and
// no file behind. These run over real HTTP against a listening API (no worker needed).

const LIMIT = 256 * 1024;

function tinyTar(bytes = 1024): Promise<Buffer> {
  return tarBuffer({ "manifest.json": "[]", "padding.bin": randomBytes(bytes) });
}

/**
 * Sends a whole multipart submission over a raw socket before reading a byte of the answer, as a
 * browser's upload does, and returns the status line and body it then reads. A server that closes
 * with the body unread resets the connection, and this rejects with that error.
 */
async function sendWholeThenRead(
  url: string,
  token: string,
  fields: [string, string][],
  file: Buffer,
): Promise<{ status: number; body: string }> {
  const boundary = `holdout-${randomBytes(8).toString("hex")}`;
  const head = fields
    .map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join("");
  const fileHead = `--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="m.tar"\r\ncontent-type: application/x-tar\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head + fileHead), file, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  socket.pause();
  const received: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    socket.on("data", (c: Buffer) => received.push(c));
    socket.on("end", resolve);
    socket.on("error", reject);
  });
  const write = (b: Buffer | string) =>
    new Promise<void>((resolve, reject) => socket.write(b, (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  await write(
    `POST /api/v1/submissions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${token}\r\n` +
      `accept: application/json\r\nconnection: close\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\n` +
      `content-length: ${body.length}\r\n\r\n`,
  );
  await write(body);
  socket.resume();
  await ended;
  socket.destroy();
  const text = Buffer.concat(received).toString("utf8");
  return { status: Number(text.split(" ", 2)[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

describe("POST /api/v1/submissions rejects bad uploads cleanly", () => {
  let stack: Stack;
  let token: string;
  let teamId: string;
  let tarball: Blob;

  beforeAll(async () => {
    stack = await startStack({ maxUploadBytes: LIMIT });
    ({ token, id: teamId } = await stack.createTeam());
    tarball = new Blob([await tinyTar()]);
  });
  afterAll(() => stack?.close());

  async function post(
    body: FormData | string,
    headers: Record<string, string> = { authorization: `Bearer ${token}` },
  ) {
    const res = await fetch(`${stack.url}/api/v1/submissions`, { method: "POST", body, headers });
    const problem = (await res.json()) as {
      code: string;
      detail: string;
      status: number;
      errors?: { field: string }[];
    };
    return { res, problem };
  }

  async function expectNothingLeft() {
    expect(await stack.db.submission.count({ where: { teamId } })).toBe(0);
    const uploads = await readdir(path.join(stack.dataDir, "uploads")).catch(() => []);
    expect(uploads).toEqual([]);
  }

  const cases: {
    name: string;
    body: () => FormData | string;
    headers?: () => Record<string, string>;
    status: number;
    code: string;
    detail: RegExp;
    field?: string;
  }[] = [
    {
      name: "no Authorization header",
      body: () =>
        formOf([
          ["model", "m"],
          ["image", tarball, "m.tar"],
        ]),
      headers: () => ({}),
      status: 401,
      code: "HOLDOUT_ERR_UNAUTHORIZED",
      detail: /API token/,
    },
    {
      name: "an unknown token",
      body: () =>
        formOf([
          ["model", "m"],
          ["image", tarball, "m.tar"],
        ]),
      headers: () => ({ authorization: "Bearer hld_not-a-real-token" }),
      status: 401,
      code: "HOLDOUT_ERR_UNAUTHORIZED",
      detail: /unknown or revoked/,
    },
    {
      name: "a malformed Authorization header",
      body: () =>
        formOf([
          ["model", "m"],
          ["image", tarball, "m.tar"],
        ]),
      headers: () => ({ authorization: `Token ${token}` }),
      status: 401,
      code: "HOLDOUT_ERR_UNAUTHORIZED",
      detail: /Bearer/,
    },
    {
      name: "a JSON body instead of multipart",
      body: () => JSON.stringify({ model: "m" }),
      headers: () => ({ authorization: `Bearer ${token}`, "content-type": "application/json" }),
      status: 415,
      code: "HOLDOUT_ERR_NOT_MULTIPART",
      detail: /multipart\/form-data/,
    },
    {
      name: "a missing model field",
      body: () =>
        formOf([
          ["description", "d"],
          ["image", tarball, "m.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`model` is required: the model's name as the leaderboard will show it$/,
      field: "model",
    },
    {
      name: "an empty model name",
      body: () =>
        formOf([
          ["model", "   "],
          ["image", tarball, "m.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`model` must not be empty/,
      field: "model",
    },
    {
      name: "a link that is not an http(s) URL",
      body: () =>
        formOf([
          ["model", "m"],
          ["link", "javascript:alert(1)"],
          ["image", tarball, "m.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`link` must be an http\(s\) URL/,
      field: "link",
    },
    {
      name: "an ensemble flag that is not a boolean",
      body: () =>
        formOf([
          ["model", "m"],
          ["ensemble", "maybe"],
          ["image", tarball, "m.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`ensemble` must be true or false/,
      field: "ensemble",
    },
    {
      name: "an unknown field",
      body: () =>
        formOf([
          ["model", "m"],
          ["colour", "red"],
          ["image", tarball, "m.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`colour` unknown field/,
      field: "colour",
    },
    {
      name: "a field sent after the file",
      body: () =>
        formOf([
          ["image", tarball, "m.tar"],
          ["model", "m"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`model` is required.*\(the fields must come before the file/,
      field: "model",
    },
    {
      name: "the file field sent as text (curl without @)",
      body: () =>
        formOf([
          ["model", "m"],
          ["image", "model.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`image` must be a file, not text: with curl, put @ before the path/,
      field: "image",
    },
    {
      name: "the file in the wrong field",
      body: () =>
        formOf([
          ["model", "m"],
          ["file", tarball, "m.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_WRONG_FILE_FIELD",
      detail: /field `image`, not `file`/,
    },
    {
      name: "no file at all",
      body: () => formOf([["model", "m"]]),
      status: 400,
      code: "HOLDOUT_ERR_MISSING_FILE",
      detail: /file field `image`/,
    },
    {
      name: "a file over the size limit",
      // gzip's magic number, then noise: passes the format check, fails the size check.
      body: () =>
        formOf([
          ["model", "m"],
          ["image", new Blob([Buffer.from([0x1f, 0x8b]), randomBytes(4 * LIMIT)]), "big.tar.gz"],
        ]),
      status: 413,
      code: "HOLDOUT_ERR_UPLOAD_TOO_LARGE",
      detail: /size limit/,
    },
    {
      name: "an empty file",
      body: () =>
        formOf([
          ["model", "m"],
          ["image", new Blob([randomBytes(0)]), "x.tar"],
        ]),
      status: 415,
      code: "HOLDOUT_ERR_UPLOAD_NOT_TAR",
      detail: /not a tar archive/,
    },
    {
      name: "a file that is neither tar nor gzip",
      body: () =>
        formOf([
          ["model", "m"],
          ["image", new Blob(["<html>not an image</html>".repeat(40)]), "m.tar"],
        ]),
      status: 415,
      code: "HOLDOUT_ERR_UPLOAD_NOT_TAR",
      detail: /docker save/,
    },
  ];

  it.each(cases)("$name → $status $code, nothing stored", async (c) => {
    const { res, problem } = await post(c.body(), c.headers?.() ?? { authorization: `Bearer ${token}` });
    expect(res.status).toBe(c.status);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(problem.code).toBe(c.code);
    expect(problem.status).toBe(c.status);
    expect(problem.detail).toMatch(c.detail);
    if (c.field) expect(problem.errors?.map((e) => e.field)).toContain(c.field);
    await expectNothingLeft();
  });

  it("a large tarball over the limit is cut off early and leaves nothing", async () => {
    const big = new Blob([await tinyTar(8 * LIMIT)]);
    const { res, problem } = await post(
      formOf([
        ["model", "m"],
        ["image", big, "m.tar"],
      ]),
    );
    expect(res.status).toBe(413);
    expect(problem.code).toBe("HOLDOUT_ERR_UPLOAD_TOO_LARGE");
    await expectNothingLeft();
  });

  // Far more than the kernel's socket buffers hold, so the refusal comes while the client sends.
  const MID_BODY = 32 * 1024 * 1024;

  it("a client that reads only after sending its whole body still gets a field error sent mid-body", async () => {
    const { status, body } = await sendWholeThenRead(
      stack.url,
      token,
      [
        ["model", "m"],
        ["link", "ftp://example.org/paper"],
      ],
      randomBytes(MID_BODY),
    );
    expect(status).toBe(400);
    expect(JSON.parse(body)).toMatchObject({
      code: "HOLDOUT_ERR_INVALID_FIELD",
      errors: [{ field: "link", message: "must be an http(s) URL" }],
    });
    await expectNothingLeft();
  });

  it("and gets the refusal of a file that is not a tarball, sent after its first bytes", async () => {
    const { status, body } = await sendWholeThenRead(
      stack.url,
      token,
      [["model", "m"]],
      randomBytes(MID_BODY),
    );
    expect(status).toBe(415);
    expect(JSON.parse(body)).toMatchObject({ code: "HOLDOUT_ERR_UPLOAD_NOT_TAR" });
    await expectNothingLeft();
  });

  it("a valid upload is stored, queued under its own id, and answered 202", async () => {
    const { res, problem } = await post(
      formOf([
        ["model", "Tiny"],
        ["description", "d"],
        ["link", "https://example.org/paper"],
        ["ensemble", "yes"],
        ["image", tarball, "m.tar"],
      ]),
    );
    const body = problem as unknown as { id: string; state: string; statusUrl: string };
    expect(res.status).toBe(202);
    expect(body.state).toBe("queued");
    expect(body.statusUrl).toBe(`/api/v1/submissions/${body.id}`);
    expect(res.headers.get("location")).toBe(body.statusUrl);
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id: body.id } });
    expect(row).toMatchObject({ state: "queued", modelName: "Tiny", ensemble: true, teamId });
    expect(Number(row.uploadSize)).toBe(tarball.size);
    expect(await readdir(path.join(stack.dataDir, "uploads"))).toEqual([`${body.id}.tar`]);
    const job = await stack.queue.getJob(body.id);
    expect(job?.data).toEqual({ submissionId: body.id });
    await stack.db.submission.delete({ where: { id: body.id } });
  });
});
