import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleTar as tarOf,
  formOf as form,
  startUploadStack,
  zipOf,
  type UploadStack,
} from "../support/forms.ts";
import type { Stack } from "../support/stack.ts";

// Uploads the API accepts whatever they hold in their names, and code bundles extracted safely and
// queued like images (no worker runs in this file). What it refuses: api-bad-input.test.ts.

describe("accepted uploads: names as given, code bundles", () => {
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

  async function post(body: FormData | Blob) {
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("stores unicode, HTML and SQL-like names as given, and the leaderboard page escapes them", async () => {
    const model = `<script>alert("x")</script> Robert'); DROP TABLE "Submission";-- 🫁 模型`;
    const { status, body } = await post(
      form([
        ["model", model],
        ["description", "line 1\nline 2"],
        ["image", tarball, "a.tar"],
      ]),
    );
    expect(status).toBe(202);
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id: body.id as string } });
    expect(row.modelName).toBe(model);
    // List it, then look at the HTML.
    await stack.db.submission.update({
      where: { id: row.id },
      data: { state: "scored", meanAuc: 0.9, meanRadsBelowCurve: 1, score: 0.9 },
    });
    const html = await (await fetch(`${stack.url}/`)).text();
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert");
    await stack.db.submission.delete({ where: { id: row.id } });
    await rm(path.join(stack.dataDir, "uploads", `${row.id}.tar`));
  });

  it("accepts a code bundle with its command, extracted safely, and queues it", async () => {
    const zip = await zipOf(
      tmp,
      "z.writestr('predict.py','print(1)')\nz.writestr('lib/util.py','x=1')\nz.writestr('lib/','')",
    );
    const { status, body } = await post(
      form([
        ["model", "Bundle"],
        ["command", "python3 predict.py"],
        ["bundle", new Blob([zip]), "b.zip"],
      ]),
    );
    expect(status).toBe(202);
    expect(body.state).toBe("queued");
    const id = body.id as string;
    const row = await stack.db.submission.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({
      kind: "bundle",
      command: "python3 predict.py",
      state: "queued",
      bundleDir: `bundles/${id}`,
    });
    const root = path.join(stack.dataDir, "bundles", id);
    expect(await readFile(path.join(root, "predict.py"), "utf8")).toBe("print(1)");
    expect(await readFile(path.join(root, "lib", "util.py"), "utf8")).toBe("x=1");
    // Queued with its competition's turn in the fair share (a BullMQ priority).
    expect(await (await stack.queue.getJob(id))?.getState()).toBe("prioritized");

    const tgz = gzipSync(await tarOf([{ name: "./run.sh", body: "#!/bin/sh\necho ok\n" }]));
    const second = await post(
      form([
        ["model", "Bundle 2"],
        ["bundle", new Blob([tgz]), "b.tar.gz"],
      ]),
    );
    expect(second.status).toBe(202);
    expect(
      await readFile(path.join(stack.dataDir, "bundles", second.body.id as string, "run.sh"), "utf8"),
    ).toMatch(/echo ok/);

    await stack.db.submission.deleteMany({ where: { teamId } });
    await rm(path.join(stack.dataDir, "bundles"), { recursive: true });
    await rm(path.join(stack.dataDir, "uploads"), { recursive: true });
  });
});
