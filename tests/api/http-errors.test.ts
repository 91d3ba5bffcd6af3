import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.ts";

// Refusals the framework and Node's HTTP parser make before a route runs are problem+json like
// every other: a wrong method on a known path (405 with Allow), a body type no endpoint takes
// (415), oversized headers (431), bytes that are not HTTP, a bad URL; and a 401 always says how
// to authenticate (WWW-Authenticate: Bearer, with RFC 6750's error where a token was refused).

interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
}

/** Sends raw bytes on a fresh connection and returns everything the server sent before closing. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

/** The status line, headers (lower-cased) and JSON body of a raw HTTP/1.1 answer. */
function parseAnswer(raw: string) {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
  );
  return { statusLine, headers, body: JSON.parse(body) as Problem };
}

describe("HTTP-level errors", () => {
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    stack = await startStack();
    ({ token } = await stack.createTeam());
  });
  afterAll(() => stack?.close());

  async function problemOf(res: Response): Promise<Problem> {
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    return (await res.json()) as Problem;
  }

  it("answers a wrong method on a known path 405 with Allow, and an unknown path 404", async () => {
    const cases: [method: string, path: string, allow: string][] = [
      ["DELETE", "/api/v1/leaderboard", "GET, HEAD"],
      ["PUT", "/api/v1/submissions/00000000-0000-4000-8000-000000000000", "GET, HEAD"],
      ["GET", "/api/v1/uploads/00000000-0000-4000-8000-000000000000", "DELETE, HEAD, OPTIONS, PATCH"],
      ["PATCH", "/api/v1/submissions", "GET, HEAD, POST"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${stack.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      const problem = await problemOf(res);
      expect(problem).toMatchObject({ code: "HOLDOUT_ERR_METHOD_NOT_ALLOWED", title: "Method Not Allowed" });
      expect(problem.detail).toContain(allow);
    }
    const missing = await fetch(`${stack.url}/api/v1/nothing-here`, { method: "DELETE" });
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).code).toBe("HOLDOUT_ERR_ROUTE_NOT_FOUND");
  });

  it("answers a body of a type no endpoint takes 415, before its schema is looked at", async () => {
    for (const type of ["text/plain", "application/xml", "application/x-www-form-urlencoded"]) {
      const res = await fetch(`${stack.url}/api/v1/teams`, {
        method: "POST",
        headers: { "content-type": type },
        body: "name=x",
      });
      expect(res.status, type).toBe(415);
      const problem = await problemOf(res);
      expect(problem.code).toBe("HOLDOUT_ERR_UNSUPPORTED_MEDIA_TYPE");
      expect(problem.detail).toContain(type);
    }
  });

  it("answers oversized headers 431 as problem+json naming the path, and keeps serving", async () => {
    for (const size of [20_000, 200_000]) {
      const raw = await rawExchange(
        stack.url,
        `GET /api/v1/leaderboard?page=1 HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(size)}\r\n\r\n`,
      );
      const answer = parseAnswer(raw);
      expect(answer.statusLine).toBe("HTTP/1.1 431 Request Header Fields Too Large");
      expect(answer.headers["content-type"]).toBe("application/problem+json");
      expect(answer.headers.connection).toBe("close");
      expect(answer.body).toMatchObject({
        status: 431,
        code: "HOLDOUT_ERR_HEADERS_TOO_LARGE",
        instance: "/api/v1/leaderboard?page=1",
        type: "/docs#problem-holdout_err_headers_too_large",
      });
    }
    // Bytes that are not HTTP at all: 400, with no path to name.
    const garbage = parseAnswer(await rawExchange(stack.url, "HELLO THERE\r\n\r\n"));
    expect(garbage.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(garbage.body).toMatchObject({ status: 400, code: "HOLDOUT_ERR_BAD_REQUEST" });
    expect(garbage.body.instance).toBeUndefined();
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });

  it("answers a malformed URL 400 and an over-long id 414, as problems", async () => {
    const bad = await fetch(`${stack.url}/api/v1/submissions/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).code).toBe("HOLDOUT_ERR_BAD_REQUEST");
    const long = await fetch(`${stack.url}/api/v1/submissions/${"a".repeat(300)}`);
    expect(long.status).toBe(414);
    expect((await problemOf(long)).code).toBe("HOLDOUT_ERR_URI_TOO_LONG");
  });

  it("says how to authenticate on every 401, and that a sent token was refused", async () => {
    const none = await fetch(`${stack.url}/api/v1/submissions`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="holdout"');

    const basic = await fetch(`${stack.url}/api/v1/submissions`, {
      headers: { authorization: "Basic dTpw" },
    });
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toBe('Bearer realm="holdout"');

    for (const header of ["Bearer not-a-real-token", "Bearer two words"]) {
      const refused = await fetch(`${stack.url}/api/v1/submissions`, { headers: { authorization: header } });
      expect(refused.status, header).toBe(401);
      expect(refused.headers.get("www-authenticate"), header).toMatch(
        /^Bearer realm="holdout", error="invalid_token", error_description="[^"]+"$/,
      );
      expect((await problemOf(refused)).code).toBe("HOLDOUT_ERR_UNAUTHORIZED");
    }

    // A wrong password is a 401 too: it still names the scheme that works.
    const login = await fetch(`${stack.url}/api/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "nobody@example.org", password: "wrong" }),
    });
    expect(login.status).toBe(401);
    expect(login.headers.get("www-authenticate")).toBe('Bearer realm="holdout"');
  });

  it("answers a request that arrives while the server shuts down 503 problem+json, closing the connection", async () => {
    const closing = await startStack();
    const { hostname, port } = new URL(closing.url);
    const body = JSON.stringify({ email: "someone@example.org", password: "secret" });
    const socket = net.connect(Number(port), hostname);
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
    const ended = new Promise((resolve) => socket.on("close", resolve));
    await new Promise((resolve) => socket.once("connect", resolve));
    // A request in flight (its body not yet all sent) keeps the server open while it closes...
    socket.write(
      `POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    const closed = closing.close();
    // The listening socket goes once fastify has begun closing (its preClose hooks have run).
    const accepts = () =>
      new Promise<boolean>((resolve) => {
        const probe = net.connect(Number(port), hostname, () => {
          probe.destroy();
          resolve(true);
        });
        probe.on("error", () => resolve(false));
      });
    while (await accepts()) await new Promise((r) => setTimeout(r, 50));
    // ...and the next one on that connection arrives during the shutdown.
    socket.write(`${body.slice(5)}GET /api/v1/leaderboard HTTP/1.1\r\nHost: x\r\n\r\n`);
    await ended;
    await closed;
    const second = received.slice(received.indexOf("HTTP/1.1", 1));
    const answer = parseAnswer(second);
    expect(answer.statusLine).toBe("HTTP/1.1 503 Service Unavailable");
    expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(answer.headers.connection).toBe("close");
    expect(answer.body).toMatchObject({
      status: 503,
      code: "HOLDOUT_ERR_UNAVAILABLE",
      instance: "/api/v1/leaderboard",
    });
  });
});
