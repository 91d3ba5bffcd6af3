import { randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSTANT_PREDICTIONS, shellModelTarball } from "../support/images.ts";
import { Cleanup } from "../support/processes.ts";
import { startIsolated, type System } from "./harness.ts";

/**
 * Starts a multipart upload that sends the fields and the first `bytes` of `file`, then stalls
 * without ending the body, as a slow client mid-transfer. Returns a function that drops it.
 */
async function stalledUpload(url: string, token: string, file: string, bytes: number): Promise<() => void> {
  const boundary = `holdout-faults-${randomBytes(8).toString("hex")}`;
  const req = http.request(`${url}/api/v1/submissions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": `multipart/form-data; boundary=${boundary}`,
    },
  });
  req.on("error", () => undefined); // the server is about to die under it: expected
  req.write(
    `--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\nhalf an upload\r\n` +
      `--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="model.tar"\r\n` +
      "content-type: application/x-tar\r\n\r\n",
  );
  const handle = await open(file);
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
    req.write(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
  return () => req.destroy();
}

// Issue 7: kill the API mid-upload → no partial row, and the partial file is cleaned up (by the
// next API process to start); the quota slot the upload held is given back.
describe("the API killed mid-upload", () => {
  const cleanup = new Cleanup();
  let system: System;
  let model: string;

  beforeAll(async () => {
    ({ system } = await startIsolated(cleanup));
    model = await shellModelTarball(CONSTANT_PREDICTIONS);
    cleanup.add("model tarball", () => rm(model, { force: true }));
    await system.startApi();
  }, 300_000);

  afterAll(() => cleanup.run(), 300_000);

  it("leaves no submission row, and the restarted API removes the partial file and frees the slot", async () => {
    const team = await system.createTeam();
    const drop = await stalledUpload(system.api!.url, team.token, model, 4 * 1024 * 1024);
    try {
      // Mid-upload: part of the file is on disk and the upload holds a quota slot.
      await system.waitFor(
        "the partial upload on disk",
        async () => ((await system.dataFiles()).length ? true : null),
        60_000,
      );
      expect((await system.quota(team.token)).usedInWindow).toBe(1);
      const killed = await system.api!.stop("SIGKILL");
      expect(killed.signal).toBe("SIGKILL");
    } finally {
      drop();
    }
    const partials = await system.dataFiles();
    expect(partials.length).toBeGreaterThan(0);
    expect(await system.db.submission.count({ where: { teamId: team.id } })).toBe(0);

    await system.startApi();
    await system
      .waitFor(
        "the partial upload to be removed",
        async () => ((await system.dataFiles()).length === 0 ? true : null),
        60_000,
      )
      .catch(async (err: unknown) => {
        throw new Error(`still on disk: ${(await system.dataFiles()).join(", ")}`, { cause: err });
      });
    expect(await system.db.submission.count({ where: { teamId: team.id } })).toBe(0);
    const quota = await system.quota(team.token);
    expect(quota.usedInWindow).toBe(0);
    expect(quota.usedTotal).toBe(0);

    // And the team can submit again, through the new process.
    const id = await system.submit(team.token, model);
    expect((await system.row(id))?.state).toBe("queued");
  }, 300_000);
});
