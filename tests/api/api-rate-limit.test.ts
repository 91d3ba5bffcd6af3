import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedSubmission } from "../support/browser.ts";
import { startStack, type Stack } from "../support/stack.ts";

/** A wrong password for a token, as sent from `forwardedFor` (if a proxy is trusted); its status. */
async function passwordGuess(url: string, forwardedFor?: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/tokens`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
    },
    body: JSON.stringify({ email: "who@example.org", password: "guess guess guess" }),
  });
  return res.status;
}

// Rate limits per client address, per credential, and for password attempts (small limits here).
describe("rate limits", () => {
  let stack: Stack;
  beforeAll(async () => {
    // authPerIp 4: issuing a token (below) spends one, the password-attempt test the other three.
    stack = await startStack({ rateLimit: { windowMs: 60_000, perIp: 40, perCredential: 5, authPerIp: 4 } });
  });
  afterAll(() => stack?.close());

  const get = (path: string, token?: string) =>
    fetch(`${stack.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("limits each token, answering 429 problem+json with Retry-After", async () => {
    const a = await stack.createTeam();
    const b = await stack.createTeam();
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get("/api/v1/submissions", a.token)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const res = await get("/api/v1/submissions", a.token);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await res.json()).toMatchObject({
      code: "HOLDOUT_ERR_RATE_LIMITED",
      detail: /API tokens and sessions of this team or account/,
    });
    // Another team is counted on its own.
    expect((await get("/api/v1/submissions", b.token)).status).toBe(200);
  });

  it("counts every token and session of a team together, and issuing a token as a request", async () => {
    const team = await stack.createTeam();
    const res = await fetch(`${stack.url}/api/v1/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${team.token}` },
      body: JSON.stringify({ label: "second" }),
    });
    expect(res.status).toBe(201);
    const second = ((await res.json()) as { token: string }).token;
    // 1 (issuing) + 2 + 2 = the 5 allowed: a new token brings no allowance of its own.
    const statuses = [];
    for (const token of [team.token, team.token, second, second, second]) {
      statuses.push((await get("/api/v1/submissions", token)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });

  it("limits password attempts per address", async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await passwordGuess(stack.url));
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it("ignores X-Forwarded-For unless a proxy is trusted: a client cannot pick its own address", async () => {
    const statuses = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${stack.url}/api/v1/session`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": `192.0.2.${i + 1}` },
        body: JSON.stringify({ email: "who@example.org", password: "guess guess guess" }),
      });
      statuses.push(res.status);
    }
    // The earlier tests spent this address's 4 attempts: every claimed address is the same client.
    expect(statuses).toEqual([429, 429]);
  });

  it("limits each address, whoever it claims to be; health probes are exempt", async () => {
    let last = 0;
    for (let i = 0; i < 45 && last !== 429; i++) last = (await get("/api/v1/leaderboard")).status;
    expect(last).toBe(429);
    expect((await get("/healthz")).status).toBe(200);
  });
});

// Behind a proxy on loopback: the client's address comes from X-Forwarded-For, and each limit per
// address counts an IPv6 client by its /64 (and an IPv4-mapped address as the IPv4 it is).
describe("per-address limits behind a trusted proxy, and event stream caps", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      trustProxy: { addresses: ["loopback"] },
      rateLimit: { windowMs: 60_000, authPerIp: 3 },
      eventStreams: { perOwner: 2, perAddress: 3 },
    });
  });
  afterAll(() => stack?.close());

  const attempt = (from: string) => passwordGuess(stack.url, from);

  it("counts an IPv6 client by its /64, however it varies the rest of its address", async () => {
    const statuses = [];
    for (const host of ["::1", "::2", ":ffff:ffff:ffff:ffff", "::abcd"])
      statuses.push(await attempt(`2001:db8:1:2${host}`));
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(await attempt("2001:db8:1:3::1")).toBe(401);
  });

  it("counts an IPv4-mapped client as its IPv4 address, apart from every other IPv4 client", async () => {
    const statuses = [];
    for (const from of ["::ffff:198.51.100.7", "198.51.100.7", "::ffff:c633:6407", "198.51.100.7"]) {
      statuses.push(await attempt(from));
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect(await attempt("::ffff:198.51.100.8")).toBe(401);
    expect(await attempt("198.51.100.9")).toBe(401);
  });

  async function queuedSubmission(teamId: string) {
    return seedSubmission(stack.db, {
      competitionId: stack.competition.id,
      teamId,
      model: "m",
      state: "queued",
    });
  }
  function openStream(id: string, token: string, from: string) {
    const abort = new AbortController();
    const opened = fetch(`${stack.url}/api/v1/submissions/${id}/events`, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${token}`, "x-forwarded-for": from },
      signal: abort.signal,
    });
    return { opened, close: () => abort.abort() };
  }

  it("caps a team's open event streams: 429 with Retry-After, and a closed stream frees its slot", async () => {
    const team = await stack.createTeam();
    const id = await queuedSubmission(team.id);
    const streams = [0, 1].map((i) => openStream(id, team.token, `203.0.113.${10 + i}`));
    expect((await Promise.all(streams.map((s) => s.opened))).map((r) => r.status)).toEqual([200, 200]);
    const third = await openStream(id, team.token, "203.0.113.12").opened;
    expect(third.status).toBe(429);
    expect(third.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await third.json()).toMatchObject({
      code: "HOLDOUT_ERR_TOO_MANY_STREAMS",
      detail: /for this team or account \(at most 2\)/,
    });
    // The plain JSON timeline is not a stream and is not capped.
    const json = await fetch(`${stack.url}/api/v1/submissions/${id}/events`, {
      headers: { authorization: `Bearer ${team.token}` },
    });
    expect(json.status).toBe(200);

    streams[0]!.close();
    await expect
      .poll(async () => {
        const again = openStream(id, team.token, "203.0.113.13");
        const status = (await again.opened).status;
        again.close();
        return status;
      })
      .toBe(200);
    streams[1]!.close();
  });

  it("caps the open event streams of one address (an IPv6 /64), whichever teams they are for", async () => {
    const teams = await Promise.all([0, 1, 2].map(() => stack.createTeam()));
    const ids = await Promise.all(teams.map((t) => queuedSubmission(t.id)));
    const open = [
      openStream(ids[0]!, teams[0]!.token, "2001:db8:7:7::1"),
      openStream(ids[1]!, teams[1]!.token, "2001:db8:7:7::2"),
      openStream(ids[2]!, teams[2]!.token, "2001:db8:7:7::3"),
    ];
    expect((await Promise.all(open.map((s) => s.opened))).map((r) => r.status)).toEqual([200, 200, 200]);
    const fourth = await openStream(ids[2]!, teams[2]!.token, "2001:db8:7:7:aaaa::4").opened;
    expect(fourth.status).toBe(429);
    expect(await fourth.json()).toMatchObject({ detail: /from this address \(at most 3\)/ });
    const elsewhere = openStream(ids[2]!, teams[2]!.token, "2001:db8:7:8::1");
    expect((await elsewhere.opened).status).toBe(200);
    for (const s of [...open, elsewhere]) s.close();
  });
});

// A hop count: the nearest proxy is believed, what a client wrote further left is not.
describe("HOLDOUT_TRUST_PROXY as a hop count", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ trustProxy: { hops: 1 }, rateLimit: { windowMs: 60_000, authPerIp: 2 } });
  });
  afterAll(() => stack?.close());

  it("takes the address the proxy saw, ignoring addresses the client made up before it", async () => {
    const attempt = (xff: string) => passwordGuess(stack.url, xff);
    const statuses = [];
    for (const spoofed of ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
      statuses.push(await attempt(`${spoofed}, 198.51.100.20`));
    expect(statuses).toEqual([401, 401, 429]);
    expect(await attempt("192.0.2.1, 198.51.100.21")).toBe(401);
  });
});
