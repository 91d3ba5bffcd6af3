import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "@holdout/contracts";
import { uniqueName } from "../support/env.ts";
import { CONSTANT_PREDICTIONS, tinyShellModelTarball } from "../support/images.ts";
import { startSmtpListener, startWebhookListener } from "../support/listeners.ts";
import { startStack, uploadImage, waitForFinal, type Stack } from "../support/stack.ts";

// A team told when its submission ends: signed webhooks to a real HTTP listener, retried through
// the notify queue with a delivery log, and e-mail through a real SMTP server; organizers told of
// an `infrastructure` failure. Only the team's own members see or remove its webhooks.
describe("notifications when a submission ends", () => {
  let stack: Stack;
  let smtp: Awaited<ReturnType<typeof startSmtpListener>>;
  const listeners: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    smtp = await startSmtpListener();
    stack = await startStack({
      worker: false,
      webhookAllowPrivate: true,
      workerEnv: {
        HOLDOUT_WEBHOOK_ALLOW_PRIVATE: "true",
        HOLDOUT_WEBHOOK_BACKOFF_MS: "200",
        HOLDOUT_WEBHOOK_ATTEMPTS: "4",
        HOLDOUT_SMTP_URL: smtp.url,
        HOLDOUT_PUBLIC_URL: "https://holdout.example.org",
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all(listeners.map((l) => l.close()));
    await smtp?.close();
  });

  const call = async <T>(token: string, method: string, path: string, body?: unknown, base = stack.url) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  type Created = { webhook: { id: string; url: string }; secret: string };
  type Deliveries = {
    deliveries: {
      submissionId: string;
      state: string;
      attempts: { attempt: number; statusCode: number | null; error: string | null }[];
    }[];
  };
  const until = async <T>(
    what: string,
    probe: () => T | undefined | Promise<T | undefined>,
    ms = 60_000,
  ): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it("a scored submission: a signed webhook, retries in the log, e-mail to an opted-in team", async () => {
    const worker = await stack.startWorker();
    try {
      await scoredSubmissionNotifies();
    } finally {
      await worker.close();
    }
  });

  async function scoredSubmissionNotifies() {
    const team = await stack.createTeam();
    const email = `${uniqueName("team")}@example.org`;
    await stack.db.team.update({ where: { id: team.id }, data: { contactEmail: email } });
    const steady = await startWebhookListener();
    const flaky = await startWebhookListener(2);
    listeners.push(steady, flaky);

    const a = await call<Created>(team.token, "POST", "/api/v1/team/webhooks", { url: steady.url });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(a.body.secret).toMatch(/^whsec_/);
    const b = await call<Created>(team.token, "POST", "/api/v1/team/webhooks", { url: flaky.url });
    expect(b.status).toBe(201);
    // The secret is shown once: never in the list.
    const list = await call<{ webhooks: Record<string, unknown>[] }>(
      team.token,
      "GET",
      "/api/v1/team/webhooks",
    );
    expect(list.body.webhooks.map((w) => w.url)).toEqual([steady.url, flaky.url]);
    expect(JSON.stringify(list.body)).not.toContain(a.body.secret);
    expect((await call(team.token, "PUT", "/api/v1/team/notifications", { emailOnEnd: true })).status).toBe(
      200,
    );

    const model = uniqueName("notified");
    const up = await uploadImage(stack.url, team.token, await tinyShellModelTarball(CONSTANT_PREDICTIONS), {
      model,
    });
    expect(up.status).toBe(202);
    const final = await waitForFinal(stack.url, team.token, up.body.id, 180_000);
    expect(final.state).toBe("scored");

    // The steady listener: one delivery whose signature verifies over the raw body.
    const got = await until("the webhook", () => steady.received[0]);
    const header = String(got.headers["holdout-signature"]);
    expect(verifyWebhook(a.body.secret, got.body, header)).toBe(true);
    expect(verifyWebhook(b.body.secret, got.body, header)).toBe(false);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
    expect(v1).toBe(createHmac("sha256", a.body.secret).update(`${t}.${got.body}`).digest("hex"));
    const payload = JSON.parse(got.body) as { event: string; submission: Record<string, unknown> };
    expect(payload).toMatchObject({
      event: "submission.ended",
      submission: {
        id: up.body.id,
        state: "scored",
        model,
        failureCategory: null,
        url: `https://holdout.example.org/c/${stack.competition.slug}/submissions/${up.body.id}`,
      },
    });
    // The released precision only, and nothing per task.
    const scores = payload.submission.scores as { meanAuc: number; meanRadsBelowCurve: number };
    expect(scores.meanAuc).toBe(Number(scores.meanAuc.toFixed(3)));
    expect(scores.meanRadsBelowCurve).toBe(Number(scores.meanRadsBelowCurve.toFixed(1)));
    expect(got.body).not.toMatch(/tasks|Atelectasis|auc95/);
    // The same figures the team reads of the submission through the API (release rules alike).
    expect(scores).toMatchObject({ meanAuc: final.meanAuc, meanRadsBelowCurve: final.meanRadsBelowCurve });

    // The flaky listener: two 500s, then a 200, all three in the log.
    const log = await until("three attempts", async () => {
      const r = await call<Deliveries>(
        team.token,
        "GET",
        `/api/v1/team/webhooks/${b.body.webhook.id}/deliveries`,
      );
      const d = r.body.deliveries[0];
      return d?.state === "delivered" ? d : undefined;
    });
    expect(log.submissionId).toBe(up.body.id);
    expect(log.attempts.map((x) => [x.attempt, x.statusCode])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(flaky.received).toHaveLength(3);

    // The opted-in team's e-mail, to its address.
    const mail = await until("the team's e-mail", () => smtp.mails.find((m) => m.to.includes(email)));
    expect(mail.raw).toContain(`Subject: [Holdout] ${model} scored`);
  }

  it("organizers get an e-mail when a run ends as infrastructure", async () => {
    const organizer = await stack.createOrganizer();
    // A worker that never has room: the submission fails as infrastructure (tests/worker/disk-wait.test.ts).
    const worker = await stack.startWorker({
      HOLDOUT_DISK_MIN_FREE_MB: "100000000",
      HOLDOUT_DISK_WAIT_SECONDS: "2",
    });
    try {
      const team = await stack.createTeam();
      const up = await uploadImage(stack.url, team.token, await tinyShellModelTarball(CONSTANT_PREDICTIONS), {
        model: uniqueName("no-room"),
      });
      const final = await waitForFinal(stack.url, team.token, up.body.id, 120_000);
      expect(final.failure?.category, JSON.stringify(final)).toBe("infrastructure");
      const mail = await until("the organizers' e-mail", () =>
        smtp.mails.find((m) => m.to.includes(organizer.email) && m.raw.includes(up.body.id)),
      );
      expect(mail.raw).toContain("Subject: [Holdout] infrastructure failure");
      // The team did not opt in: nothing to it.
      expect(smtp.mails.filter((m) => m.raw.includes("no-room") && !m.to.includes(organizer.email))).toEqual(
        [],
      );
    } finally {
      await worker.close();
    }
  });

  it("a submission cancelled while no worker runs: its notice waits in the queue for the next worker", async () => {
    const team = await stack.createTeam();
    const listener = await startWebhookListener();
    listeners.push(listener);
    const hook = await call<Created>(team.token, "POST", "/api/v1/team/webhooks", { url: listener.url });
    const up = await uploadImage(stack.url, team.token, await tinyShellModelTarball(CONSTANT_PREDICTIONS), {
      model: uniqueName("cancelled"),
    });
    const cancel = await call<{ outcome: string }>(
      team.token,
      "POST",
      `/api/v1/submissions/${up.body.id}/cancel`,
    );
    expect(cancel.body.outcome).toBe("cancelled");
    expect(listener.received).toHaveLength(0);
    const worker = await stack.startWorker();
    try {
      const got = await until("the cancelled submission's webhook", () => listener.received[0]);
      expect(verifyWebhook(hook.body.secret, got.body, String(got.headers["holdout-signature"]))).toBe(true);
      expect(JSON.parse(got.body)).toMatchObject({
        submission: { id: up.body.id, state: "cancelled", scores: null },
      });
    } finally {
      await worker.close();
    }
  });

  it("refuses internal addresses without the organizer's setting, and keeps each team's webhooks its own", async () => {
    const strict = await startStack({ worker: false });
    try {
      const team = await strict.createTeam();
      for (const url of [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://localhost/hook",
      ]) {
        const r = await call<{ code: string; detail: string }>(
          team.token,
          "POST",
          "/api/v1/team/webhooks",
          { url },
          strict.url,
        );
        expect(r.status, url).toBe(400);
        expect(r.body.code).toBe("HOLDOUT_ERR_WEBHOOK_REFUSED");
        expect(r.body.detail).toMatch(/address/);
      }
      const bad = await call<{ code: string }>(
        team.token,
        "POST",
        "/api/v1/team/webhooks",
        { url: "ftp://x" },
        strict.url,
      );
      expect(bad.body.code).toBe("HOLDOUT_ERR_WEBHOOK_REFUSED");
    } finally {
      await strict.close();
    }
    // Even with loopback allowed, link-local (cloud metadata) stays refused.
    const owner = await stack.createTeam();
    const meta = await call<{ code: string }>(owner.token, "POST", "/api/v1/team/webhooks", {
      url: "http://169.254.169.254/",
    });
    expect(meta.body.code).toBe("HOLDOUT_ERR_WEBHOOK_REFUSED");

    const other = await stack.createTeam();
    const hook = await call<Created>(owner.token, "POST", "/api/v1/team/webhooks", {
      url: "http://127.0.0.1:9/x",
    });
    const id = hook.body.webhook.id;
    const seen = await call<{ webhooks: { id: string }[] }>(other.token, "GET", "/api/v1/team/webhooks");
    expect(seen.body.webhooks.map((w) => w.id)).not.toContain(id);
    expect((await call(other.token, "GET", `/api/v1/team/webhooks/${id}/deliveries`)).status).toBe(404);
    expect((await call(other.token, "DELETE", `/api/v1/team/webhooks/${id}`)).status).toBe(404);
    // Still there for its own team, which may remove it.
    expect((await call(owner.token, "GET", `/api/v1/team/webhooks/${id}/deliveries`)).status).toBe(200);
    expect((await call(owner.token, "DELETE", `/api/v1/team/webhooks/${id}`)).status).toBe(204);
    expect((await call(owner.token, "GET", `/api/v1/team/webhooks/${id}/deliveries`)).status).toBe(404);
  });
});
