import { readdir } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleTar as tarOf, formOf, startUploadStack, zipOf, type UploadStack } from "../support/forms.ts";
import type { Stack } from "../support/stack.ts";

// Hostile and broken submissions: every one a 4xx problem+json naming the fault, never a 5xx, and
// nothing left on disk or in the database. Code bundles are extracted safely (no zip-slip, no links,
// bounded size). What it accepts: accepted-input.test.ts.

describe("bad input and code bundles", () => {
  let stack: Stack;
  let token: string;
  let teamId: string;
  let tmp: string;
  let tarball: Blob;

  let uploads: UploadStack | undefined;

  beforeAll(async () => {
    uploads = await startUploadStack();
    ({ stack, token, teamId, tmp, tarball } = uploads);
  });
  afterAll(() => uploads?.close());

  async function post(body: FormData | Blob, headers: Record<string, string> = {}) {
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, ...headers },
      body,
    });
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      body: (await res.json()) as Record<string, unknown>,
    };
  }
  const form = formOf;
  async function expectNothingLeft() {
    expect(await stack.db.submission.count({ where: { teamId } })).toBe(0);
    expect(await stack.db.quotaReservation.count({ where: { teamId } })).toBe(0);
    for (const dir of ["uploads", "bundles"]) {
      expect(await readdir(path.join(stack.dataDir, dir)).catch(() => [])).toEqual([]);
    }
  }

  const boundary = "----holdoutboundary";
  const raw = (text: string) => new Blob([text.replaceAll("\n", "\r\n")]);
  const multipart = { "content-type": `multipart/form-data; boundary=${boundary}` };

  const cases: {
    name: string;
    body: () => Promise<FormData | Blob> | FormData | Blob;
    headers?: Record<string, string>;
    status: number;
    code: string;
    detail: RegExp;
  }[] = [
    {
      name: "a truncated multipart body",
      body: () =>
        raw(
          `--${boundary}\nContent-Disposition: form-data; name="model"\n\nm\n--${boundary}\nContent-Disposition: form-data; name="image"; filename="a.tar"\n\nxx`,
        ),
      headers: multipart,
      status: 400,
      code: "HOLDOUT_ERR_MALFORMED_MULTIPART",
      detail: /malformed/,
    },
    {
      name: "garbage with a multipart content type",
      body: () => raw("this is not multipart at all"),
      headers: multipart,
      status: 400,
      code: "HOLDOUT_ERR_MALFORMED_MULTIPART",
      detail: /malformed/,
    },
    {
      name: "two files",
      body: () =>
        form([
          ["model", "m"],
          ["image", tarball, "a.tar"],
          ["image", tarball, "b.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_TOO_MANY_FILES",
      detail: /.+/,
    },
    {
      name: "a huge field value",
      body: () =>
        form([
          ["model", "m"],
          ["description", "x".repeat(100_000)],
          ["image", tarball, "a.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`description` is too long/,
    },
    {
      name: "a NUL byte in the model name",
      body: () =>
        form([
          ["model", "evil\u0000name"],
          ["image", tarball, "a.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /`model` must not contain U\+0000 NULL \(a control character\), at character 5/,
    },
    // Characters a reader cannot see, in each shown field: the problem names the character and where.
    ...(
      [
        [
          "a right-to-left override",
          "model",
          "Team\u202Eevil",
          "U+202E RIGHT-TO-LEFT OVERRIDE (a text-direction control), at character 5",
        ],
        [
          "a zero-width space",
          "model",
          "Res\u200BNet",
          "U+200B ZERO WIDTH SPACE (an invisible character), at character 4",
        ],
        // FormData sends the line break as CRLF, as browsers do: two characters.
        [
          "a right-to-left isolate",
          "description",
          "line 1\nline \u2067two",
          "U+2067 RIGHT-TO-LEFT ISOLATE (a text-direction control), at character 14",
        ],
        [
          "a left-to-right isolate",
          "link",
          "https://example.org/\u2066paper",
          "U+2066 LEFT-TO-RIGHT ISOLATE (a text-direction control), at character 21",
        ],
        [
          "a tag character (hidden ASCII)",
          "model",
          "Model\u{E0069}\u{E0067}",
          "U+E0069 TAG LATIN SMALL LETTER I (an invisible character), at character 6",
        ],
        [
          "a line separator",
          "model",
          "two\u2028lines",
          "U+2028 LINE SEPARATOR (a line or paragraph separator), at character 4",
        ],
      ] as const
    ).map(([what, field, value, problem]) => ({
      name: `${what} in the ${field}`,
      body: () =>
        form([
          ...(field === "model" ? [] : [["model", "m"] as [string, string]]),
          [field, value],
          ["image", tarball, "a.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: new RegExp(`^field \`${field}\` must not contain ${problem.replace(/[()+]/g, "\\$&")}$`),
    })),
    {
      name: "a link with a javascript: scheme",
      body: () =>
        form([
          ["model", "m"],
          ["link", "javascript:alert(document.cookie)"],
          ["image", tarball, "a.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /http\(s\) URL/,
    },
    {
      name: "a command for an image",
      body: () =>
        form([
          ["model", "m"],
          ["command", "rm -rf /"],
          ["image", tarball, "a.tar"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_INVALID_FIELD",
      detail: /code bundles only/,
    },
    {
      name: "a bundle that is neither zip nor tar.gz",
      body: () =>
        form([
          ["model", "m"],
          ["bundle", new Blob(["#!/bin/sh\necho hi\n"]), "b.sh"],
        ]),
      status: 415,
      code: "HOLDOUT_ERR_BUNDLE_NOT_ARCHIVE",
      detail: /zip or a tar.gz/,
    },
    {
      name: "an empty bundle",
      body: () =>
        form([
          ["model", "m"],
          ["bundle", new Blob([]), "b.zip"],
        ]),
      status: 415,
      code: "HOLDOUT_ERR_BUNDLE_NOT_ARCHIVE",
      detail: /zip or a tar.gz/,
    },
    {
      name: "a zip-slip zip (../ entry)",
      body: async () =>
        form([
          ["model", "m"],
          ["bundle", new Blob([await zipOf(tmp, "z.writestr('../../evil.sh','x')")]), "b.zip"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /not acceptable/,
    },
    {
      name: "a zip with an absolute path",
      body: async () =>
        form([
          ["model", "m"],
          ["bundle", new Blob([await zipOf(tmp, "z.writestr('/etc/cron.d/x','x')")]), "b.zip"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /not acceptable/,
    },
    {
      name: "a zip holding a symlink",
      body: async () =>
        form([
          ["model", "m"],
          [
            "bundle",
            new Blob([
              await zipOf(
                tmp,
                "i=zipfile.ZipInfo('link')\ni.external_attr=(0o120777<<16)\nz.writestr(i,'/etc/passwd')",
              ),
            ]),
            "b.zip",
          ],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /link or special file/,
    },
    {
      name: "a zip bomb (beyond the extracted-size limit)",
      body: async () =>
        form([
          ["model", "m"],
          [
            "bundle",
            new Blob([
              await zipOf(tmp, "z.writestr('big.bin', b'0'*(1024*1024), compress_type=zipfile.ZIP_DEFLATED)"),
            ]),
            "b.zip",
          ],
        ]),
      status: 413,
      code: "HOLDOUT_ERR_BUNDLE_TOO_LARGE",
      detail: /more than 65536 bytes/,
    },
    {
      name: "a tar.gz with a ../ entry",
      body: async () =>
        form([
          ["model", "m"],
          ["bundle", new Blob([gzipSync(await tarOf([{ name: "../evil.sh", body: "x" }]))]), "b.tar.gz"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /outside the bundle/,
    },
    {
      name: "a tar.gz holding a symlink",
      body: async () =>
        form([
          ["model", "m"],
          [
            "bundle",
            new Blob([
              gzipSync(
                await tarOf([
                  { name: "run.sh", body: "x" },
                  { name: "passwd", type: "symlink" },
                ]),
              ),
            ]),
            "b.tar.gz",
          ],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /symlink/,
    },
    {
      name: "a tar.gz with too many files",
      body: async () =>
        form([
          ["model", "m"],
          [
            "bundle",
            new Blob([gzipSync(await tarOf(Array.from({ length: 60 }, (_, i) => ({ name: `f${i}` }))))]),
            "b.tar.gz",
          ],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /more than 50 entries/,
    },
    {
      name: "a corrupt gzip bundle",
      body: () =>
        form([
          ["model", "m"],
          ["bundle", new Blob([Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7])]), "b.tar.gz"],
        ]),
      status: 400,
      code: "HOLDOUT_ERR_BUNDLE_INVALID",
      detail: /not a readable tar.gz/,
    },
  ];

  it.each(cases)("$name → $status $code, nothing left", async (c) => {
    const { status, type, body } = await post(await c.body(), c.headers);
    expect(status).toBe(c.status);
    expect(type).toMatch(/^application\/problem\+json/);
    expect(body.code).toBe(c.code);
    expect(body.detail).toMatch(c.detail);
    await expectNothingLeft();
  });
});
