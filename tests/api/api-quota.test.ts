import { readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markFailed } from "@holdout/db";
import { tarBuffer } from "../support/images.ts";
import { startStack, type Stack } from "../support/stack.ts";

// Quotas (official defaults: 5 per rolling 24 hours, 20 in all) are enforced in PostgreSQL under a
// lock on the team's row, before the upload is read; infrastructure failures are refunded.

async function tinyTar(): Promise<Blob> {
  return new Blob([await tarBuffer({ "manifest.json": "[]" })]);
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { id?: string; code?: string; detail?: string; retryAt?: string };
}

describe("submission quotas", () => {
  let stack: Stack;
  let tarball: Blob;

  beforeAll(async () => {
    // The official competition's quota, which is also the schema's default.
    stack = await startStack({ quota: { perDay: 5, total: 20 } });
    tarball = await tinyTar();
  });
  afterAll(() => stack?.close());

  async function submit(token: string, file: Blob = tarball): Promise<Answer> {
    const fd = new FormData();
    fd.append("model", "m");
    fd.append("image", file, "m.tar");
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: fd,
    });
    return {
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      body: (await res.json()) as Answer["body"],
    };
  }
  async function quota(token: string) {
    const res = await fetch(`${stack.url}/api/v1/quota`, { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()) as {
      remaining: number;
      usedInWindow: number;
      usedTotal: number;
      nextSlotAt: string | null;
    };
  }

  it("with 5 left, 20 parallel uploads give exactly 5 accepted and 15 answers 429 with Retry-After", async () => {
    const team = await stack.createTeam();
    expect(await quota(team.token)).toMatchObject({ remaining: 5, usedInWindow: 0, nextSlotAt: null });

    const answers = await Promise.all(Array.from({ length: 20 }, () => submit(team.token)));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expect(r.body.code).toBe("HOLDOUT_ERR_QUOTA_EXCEEDED");
      expect(r.body.detail).toMatch(/next slot opens at \d{4}-\d\d-\d\dT/);
      const seconds = Number(r.retryAfter);
      // About 24 hours from now: the oldest of the five ages out of the window then.
      expect(seconds).toBeGreaterThan(23 * 3600);
      expect(seconds).toBeLessThanOrEqual(24 * 3600);
      expect(r.body.retryAt).toBeDefined();
    }
    expect(await stack.db.submission.count({ where: { teamId: team.id } })).toBe(5);
    expect(await stack.db.quotaReservation.count({ where: { teamId: team.id } })).toBe(0);
    const q = await quota(team.token);
    expect(q).toMatchObject({ remaining: 0, usedInWindow: 5, usedTotal: 5 });
    expect(Date.parse(q.nextSlotAt ?? "")).toBeGreaterThan(Date.now() + 23 * 3600_000);
  });

  it("refunds infrastructure failures but charges the team's own failures", async () => {
    const team = await stack.createTeam();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await submit(team.token);
      expect(a.status).toBe(202);
      ids.push(a.body.id ?? "");
    }
    expect((await submit(team.token)).status).toBe(429);
    await markFailed(stack.db, ids[0] ?? "", "nonzero_exit", "exit 1");
    expect((await quota(team.token)).remaining).toBe(0);
    await markFailed(stack.db, ids[1] ?? "", "infrastructure", "worker lost");
    expect((await quota(team.token)).remaining).toBe(1);
    expect((await submit(team.token)).status).toBe(202);
  });

  it("a refused upload gives its slot back and leaves nothing", async () => {
    const team = await stack.createTeam();
    const bad = await submit(team.token, new Blob(["<html>not a tarball</html>".repeat(20)]));
    expect(bad.status).toBe(415);
    expect(await quota(team.token)).toMatchObject({ remaining: 5, usedTotal: 0 });
    expect(await stack.db.quotaReservation.count({ where: { teamId: team.id } })).toBe(0);
    const uploads = await readdir(path.join(stack.dataDir, "uploads"));
    expect(uploads.filter((f) => f.endsWith(".part"))).toEqual([]);
  });

  it("the total quota runs out for good: 429 without a retry time", async () => {
    const team = await stack.createTeam();
    await stack.db.competition.update({ where: { id: stack.competition.id }, data: { quotaTotal: 2 } });
    try {
      expect((await submit(team.token)).status).toBe(202);
      expect((await submit(team.token)).status).toBe(202);
      const done = await submit(team.token);
      expect(done.status).toBe(429);
      expect(done.body.code).toBe("HOLDOUT_ERR_QUOTA_EXHAUSTED");
      expect(done.body.detail).toMatch(/all 2 submissions/);
      expect(done.retryAfter).toBeNull();
      expect(await quota(team.token)).toMatchObject({ remaining: 0, nextSlotAt: null });
    } finally {
      await stack.db.competition.update({ where: { id: stack.competition.id }, data: { quotaTotal: 20 } });
    }
  });
});
