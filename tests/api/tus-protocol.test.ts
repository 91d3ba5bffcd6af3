import { createHash, randomBytes } from "node:crypto";
import * as tus from "tus-js-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarBuffer } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

// tus 1.0 as clients built on the protocol meet it: tus-js-client (the reference client, which
// Uppy and our CLI use) uploads in chunks, resumes an interrupted upload from the server's offset
// and sends the first bytes with the creation; raw requests check discovery (OPTIONS), the 412 for
// a version the server does not speak, Tus-Resumable on every answer, and Upload-Expires.

const MAX = 8 * 1024 * 1024;
const CHUNK = 256 * 1024;
const EXTENSIONS = "creation,creation-with-upload,creation-defer-length,termination,expiration";

interface Sent {
  url: string;
  /** Every answer's status and Tus-Resumable, in order. */
  answers: { method: string; status: number; tusResumable: string | undefined }[];
  last: tus.HttpResponse;
}

describe("tus 1.0", () => {
  let stack: Stack;
  let team: { id: string; token: string };
  let file: Buffer;

  beforeAll(async () => {
    stack = await startStack({ maxUploadBytes: MAX });
    team = await stack.createTeam();
    // A `docker save`-shaped tar over several chunks (no worker runs here: it stays queued).
    file = await tarBuffer({ "manifest.json": "[]", "layer.bin": randomBytes(1024 * 1024 + 12_345) });
  });
  afterAll(() => stack?.close());

  /** Uploads with tus-js-client; resolves with the upload URL, every answer seen and the last one. */
  function upload(options: Partial<tus.UploadOptions> & { stopAfter?: number } = {}): Promise<Sent> {
    const answers: Sent["answers"] = [];
    const { stopAfter, ...rest } = options;
    return new Promise((resolve, reject) => {
      const u: tus.Upload = new tus.Upload(file, {
        endpoint: `${stack.url}/api/v1/uploads`,
        headers: { authorization: `Bearer ${team.token}` },
        metadata: { model: "tus-js-client", filename: "model.tar" },
        chunkSize: CHUNK,
        retryDelays: null,
        onAfterResponse: (req, res) => {
          answers.push({
            method: req.getMethod(),
            status: res.getStatus(),
            tusResumable: res.getHeader("Tus-Resumable"),
          });
        },
        onChunkComplete: (_size, accepted) => {
          // Interrupted as a broken connection would leave it: the server keeps what it has.
          if (stopAfter !== undefined && accepted >= stopAfter) {
            void u.abort(false).then(() => resolve({ url: u.url!, answers, last: undefined as never }));
          }
        },
        onSuccess: ({ lastResponse }) => resolve({ url: u.url!, answers, last: lastResponse }),
        onError: reject,
        ...rest,
      });
      u.start();
    });
  }

  async function submissionOf(last: tus.HttpResponse) {
    const id = last.getHeader("Holdout-Submission-Id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(last.getHeader("Holdout-Submission-State")).toBe("queued");
    return stack.db.submission.findUniqueOrThrow({ where: { id: id! } });
  }

  const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  it("discovers what the server speaks with OPTIONS, without credentials", async () => {
    for (const path of ["/api/v1/uploads", "/api/v1/uploads/00000000-0000-4000-8000-000000000000"]) {
      const res = await fetch(`${stack.url}${path}`, { method: "OPTIONS" });
      expect(res.status, path).toBe(204);
      expect(res.headers.get("tus-version")).toBe("1.0.0");
      expect(res.headers.get("tus-extension")).toBe(EXTENSIONS);
      expect(res.headers.get("tus-max-size")).toBe(String(MAX));
      expect(res.headers.get("tus-resumable")).toBe("1.0.0");
    }
  });

  it("uploads in chunks with tus-js-client, every answer naming the protocol", async () => {
    const sent = await upload();
    const patches = sent.answers.filter((a) => a.method === "PATCH");
    expect(patches.length).toBe(Math.ceil(file.length / CHUNK));
    expect(sent.answers.map((a) => [a.method, a.status, a.tusResumable])).toEqual([
      ["POST", 201, "1.0.0"],
      ...patches.map(() => ["PATCH", 204, "1.0.0"]),
    ]);
    const row = await submissionOf(sent.last);
    expect(row.uploadSha256).toBe(sha256(file));
    expect(Number(row.uploadSize)).toBe(file.length);
  });

  it("resumes an interrupted upload from the server's offset (HEAD), with tus-js-client", async () => {
    const first = await upload({ stopAfter: 2 * CHUNK });
    const head = await fetch(`${stack.url}${new URL(first.url).pathname}`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${team.token}`, "tus-resumable": "1.0.0" },
    });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("upload-offset"))).toBe(2 * CHUNK);
    expect(head.headers.get("upload-length")).toBe(String(file.length));
    expect(head.headers.get("cache-control")).toBe("no-store");

    // A new client given the upload's URL asks for the offset and sends only the rest.
    const rest = await upload({ uploadUrl: first.url });
    expect(rest.answers[0]).toEqual({ method: "HEAD", status: 200, tusResumable: "1.0.0" });
    expect(rest.answers.filter((a) => a.method === "POST")).toEqual([]);
    expect(rest.answers.filter((a) => a.method === "PATCH").length).toBe(
      Math.ceil((file.length - 2 * CHUNK) / CHUNK),
    );
    expect((await submissionOf(rest.last)).uploadSha256).toBe(sha256(file));
  });

  it("takes the first bytes in the creation request (creation-with-upload)", async () => {
    const sent = await upload({ uploadDataDuringCreation: true, chunkSize: file.length });
    expect(sent.answers.map((a) => [a.method, a.status])).toEqual([["POST", 201]]);
    expect((await submissionOf(sent.last)).uploadSha256).toBe(sha256(file));
  });

  it("terminates an upload with tus-js-client, giving the quota slot back", async () => {
    const first = await upload({ stopAfter: CHUNK });
    expect(await stack.db.quotaReservation.count({ where: { teamId: team.id } })).toBe(1);
    await tus.Upload.terminate(first.url, { headers: { authorization: `Bearer ${team.token}` } });
    expect(await stack.db.quotaReservation.count({ where: { teamId: team.id } })).toBe(0);
    const gone = await fetch(first.url, {
      method: "HEAD",
      headers: { authorization: `Bearer ${team.token}`, "tus-resumable": "1.0.0" },
    });
    expect(gone.status).toBe(404);
    expect(gone.headers.get("tus-resumable")).toBe("1.0.0");
  });

  it("answers a version it does not speak 412 with Tus-Version, taking nothing", async () => {
    const auth = { authorization: `Bearer ${team.token}` };
    const target = "/api/v1/uploads/00000000-0000-4000-8000-000000000000";
    const requests: [string, string, Record<string, string>][] = [
      ["POST", "/api/v1/uploads", { "upload-length": "10", "upload-metadata": "model eA==" }],
      ["HEAD", target, {}],
      ["PATCH", target, { "upload-offset": "0", "content-type": "application/offset+octet-stream" }],
      ["DELETE", target, {}],
    ];
    for (const version of [undefined, "0.2.2", "2.0.0"]) {
      for (const [method, path, headers] of requests) {
        const res = await fetch(`${stack.url}${path}`, {
          method,
          headers: { ...auth, ...headers, ...(version ? { "tus-resumable": version } : {}) },
        });
        const label = `${method} ${String(version)}`;
        expect(res.status, label).toBe(412);
        expect(res.headers.get("tus-version"), label).toBe("1.0.0");
        expect(res.headers.get("tus-resumable"), label).toBe("1.0.0");
        if (method !== "HEAD") {
          const problem = (await res.json()) as { code: string; detail: string };
          expect(problem.code).toBe("HOLDOUT_ERR_TUS_VERSION");
          expect(problem.detail).toContain("1.0.0");
        }
      }
    }
    expect(await stack.db.quotaReservation.count({ where: { teamId: team.id } })).toBe(0);
  });

  it("names the protocol on refusals too, and says until when an upload is kept", async () => {
    const anonymous = await fetch(`${stack.url}/api/v1/uploads`, {
      method: "POST",
      headers: { "tus-resumable": "1.0.0", "upload-length": "10" },
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("tus-resumable")).toBe("1.0.0");
    const tooBig = await fetch(`${stack.url}/api/v1/uploads`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${team.token}`,
        "tus-resumable": "1.0.0",
        "upload-length": String(MAX + 1),
        "upload-metadata": "model eA==",
      },
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers.get("tus-resumable")).toBe("1.0.0");

    const before = Date.now();
    const created = await fetch(`${stack.url}/api/v1/uploads`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${team.token}`,
        "tus-resumable": "1.0.0",
        "upload-length": String(file.length),
        "upload-metadata": "model eA==",
      },
    });
    expect(created.status).toBe(201);
    const expires = Date.parse(created.headers.get("upload-expires") ?? "");
    // The quota slot's lifetime (6 hours by default), as an HTTP date (whole seconds).
    expect(expires).toBeGreaterThan(before + 6 * 3600_000 - 2000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 6 * 3600_000);
    const location = created.headers.get("location")!;
    const chunk = await fetch(`${stack.url}${location}`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${team.token}`,
        "tus-resumable": "1.0.0",
        "upload-offset": "0",
        "content-type": "application/offset+octet-stream",
      },
      body: file.subarray(0, CHUNK),
    });
    expect(chunk.status).toBe(204);
    expect(chunk.headers.get("upload-offset")).toBe(String(CHUNK));
    expect(Date.parse(chunk.headers.get("upload-expires") ?? "")).toBeGreaterThanOrEqual(expires);
    const wrongType = await fetch(`${stack.url}${location}`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${team.token}`,
        "tus-resumable": "1.0.0",
        "upload-offset": String(CHUNK),
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get("tus-resumable")).toBe("1.0.0");
    await fetch(`${stack.url}${location}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${team.token}`, "tus-resumable": "1.0.0" },
    });
  });
});
