import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "./support/stack.ts";

// Rate limits per client address, per credential, and for password attempts (small limits here).
describe("rate limits", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ rateLimit: { windowMs: 60_000, perIp: 40, perCredential: 5, authPerIp: 3 } });
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
    // Another token is counted on its own.
    expect((await get("/api/v1/submissions", b.token)).status).toBe(200);
  });

  it("limits password attempts per address", async () => {
    const attempt = () =>
      fetch(`${stack.url}/api/v1/tokens`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "who@example.org", password: "guess guess guess" }),
      });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt()).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it("limits each address, whoever it claims to be; health probes are exempt", async () => {
    let last = 0;
    for (let i = 0; i < 45 && last !== 429; i++) last = (await get("/api/v1/leaderboard")).status;
    expect(last).toBe(429);
    expect((await get("/healthz")).status).toBe(200);
  });
});
