import SwaggerParser from "@apidevtools/swagger-parser";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROBLEMS, problemType } from "@holdout/contracts";
import { launchBrowser, saveScreenshot, type DomWindow } from "../support/browser.ts";
import { startStack, type Stack } from "../support/stack.ts";

// /docs: the OpenAPI document for scripts (as it always was) and a reference page for browsers,
// built from that document, with an entry for every problem code; a problem's `type` leads there.

interface Media {
  schema?: Record<string, unknown>;
}
interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, Media>;
}
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  "x-caller"?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses: Record<string, Response>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** Every operation of the document, with a request path whose parameters are filled in. */
function operations(doc: OpenApi) {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      url: path.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000"),
      op,
    })),
  );
}

describe("the API reference", () => {
  let stack: Stack;
  let browser: Browser;
  let doc: OpenApi;

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    doc = (await (await fetch(`${stack.url}/docs/openapi.json`)).json()) as OpenApi;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("answers scripts with the OpenAPI document and browsers with a page", async () => {
    for (const accept of [undefined, "*/*", "application/json"]) {
      const res = await fetch(`${stack.url}/docs`, { headers: accept ? { accept } : {} });
      expect(res.status, String(accept)).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.headers.get("vary")).toMatch(/accept/i);
      expect(await res.json()).toEqual(doc);
    }
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain("/api/v1/submissions");

    const page = await fetch(`${stack.url}/docs`, {
      headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/<style|style="|<script>| on[a-z]+="/);
    for (const { method, path } of operations(doc)) {
      expect(html, `${method} ${path}`).toContain(`<span class="method method-${method.toLowerCase()}">`);
      expect(html, path).toContain(`<code>${path}</code>`);
    }
    for (const p of PROBLEMS) expect(html, p.code).toContain(`id="${problemType(p.code).split("#")[1]}"`);
    // The schemas' backticked names are code, and nothing from them is left unescaped.
    expect(html).toContain("<code>docker save</code>");
    expect(html).not.toMatch(/`[a-z]/i);

    // The document stays JSON on its own path, whatever the client prefers.
    const json = await fetch(`${stack.url}/docs/openapi.json`, { headers: { accept: "text/html" } });
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("is valid OpenAPI 3.0 for swagger-parser and for Redocly's recommended rules", async () => {
    expect(doc.openapi).toBe("3.0.3");
    // Throws, listing every violation of the OpenAPI 3.0 schema and of the spec's own rules.
    await SwaggerParser.validate(structuredClone(doc) as never);
    const config = await createConfig({
      extends: ["recommended"],
      // The API states no licence of its own (the deployment's organizers publish their terms).
      rules: { "info-license": "off" },
    });
    const problems = await lintFromString({
      source: JSON.stringify(doc),
      absoluteRef: "/docs/openapi.json",
      config,
    });
    expect(
      problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`),
    ).toEqual([]);
  });

  it("names each operation and describes every error as problem+json", async () => {
    const ids = operations(doc).map(({ op }) => op.operationId);
    expect(
      ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z]+$/.test(id)),
      ids.join(" "),
    ).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status)) continue;
        expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual([
          "application/problem+json",
        ]);
      }
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(["4XX", "5XX"]));
      expect(
        Object.keys(op.responses).some((s) => s.startsWith("2")),
        `${method} ${path} has a success`,
      ).toBe(true);
    }
    // What a problem is, once: the live answer's fields are the schema's.
    const problem = (doc as unknown as { components: { schemas: { Problem: { required: string[] } } } })
      .components.schemas.Problem;
    expect(problem.required).toEqual(["type", "title", "status", "detail", "code"]);
    const res = await fetch(`${stack.url}/api/v1/submissions`);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(Object.keys((await res.json()) as object)).toEqual(expect.arrayContaining(problem.required));

    // The event stream and the CSV say what they are.
    const events = doc.paths["/api/v1/submissions/{id}/events"]!.get!;
    expect(Object.keys(events.responses["200"]!.content!)).toEqual(["application/json", "text/event-stream"]);
    expect(events.responses["204"]).toBeDefined();
    const csv = doc.paths["/leaderboard.csv"]!.get!;
    expect(Object.keys(csv.responses["200"]!.content!)).toEqual(["text/csv"]);
  });

  it("describes every tus operation with its headers", () => {
    const upload = doc.paths["/api/v1/uploads/{id}"]!;
    const create = doc.paths["/api/v1/uploads"]!.post!;
    expect(Object.keys(doc.paths["/api/v1/uploads"]!).sort()).toEqual(["options", "post"]);
    expect(Object.keys(upload).sort()).toEqual(["delete", "head", "options", "patch"]);
    const headersOf = (op: Operation, status: string) => Object.keys(op.responses[status]?.headers ?? {});
    const required = (op: Operation) =>
      op.parameters?.filter((p) => p.in === "header" && p.required).map((p) => p.name);

    expect(headersOf(doc.paths["/api/v1/uploads"]!.options!, "204")).toEqual(
      expect.arrayContaining(["tus-version", "tus-extension", "tus-max-size", "tus-resumable"]),
    );
    expect(headersOf(create, "201")).toEqual(
      expect.arrayContaining(["location", "upload-expires", "tus-resumable"]),
    );
    expect(required(create)).toEqual(["tus-resumable"]);
    expect(create.requestBody).toMatchObject({ required: false });
    expect(Object.keys(create.requestBody!.content)).toEqual(["application/offset+octet-stream"]);
    expect(headersOf(upload.head!, "200")).toEqual(
      expect.arrayContaining(["upload-offset", "upload-length", "cache-control", "tus-resumable"]),
    );
    expect(headersOf(upload.patch!, "204")).toEqual(
      expect.arrayContaining(["upload-offset", "upload-expires", "holdout-submission-id", "tus-resumable"]),
    );
    expect(required(upload.patch!)).toEqual(["tus-resumable", "upload-offset"]);
    expect(upload.patch!.requestBody).toMatchObject({ required: true });
    expect(headersOf(upload.delete!, "204")).toEqual(["tus-resumable"]);
    for (const op of [create, upload.head!, upload.patch!, upload.delete!]) {
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["4XX"]));
    }
  });

  it("documents unknown JSON fields as refused, and refuses them naming the field", async () => {
    const session = doc.paths["/api/v1/session"]!.post!;
    expect(session.requestBody!.content["application/json"]!.schema).toMatchObject({
      additionalProperties: false,
    });
    const res = await fetch(`${stack.url}/api/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "someone@example.org", password: "secret", remember: true }),
    });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; detail: string; errors: { field: string }[] };
    expect(problem.code).toBe("HOLDOUT_ERR_VALIDATION");
    expect(problem.errors).toEqual([expect.objectContaining({ field: "remember" })]);
    expect(problem.detail).toContain("`remember`");
  });

  it("says who may call each operation, as the server enforces it", async () => {
    const ops = operations(doc);
    const byName = (m: string, p: string) => ops.find((o) => o.method === m && o.path === p)!.op;
    expect(byName("GET", "/api/v1/admin/settings")["x-caller"]).toBe("organizer");
    expect(byName("POST", "/api/v1/submissions")["x-caller"]).toBe("team");
    expect(byName("GET", "/api/v1/tokens")["x-caller"]).toBe("signed-in");
    expect(byName("POST", "/api/v1/tokens")["x-caller"]).toBe("credentials");
    expect(byName("GET", "/api/v1/leaderboard")["x-caller"]).toBeUndefined();

    // Without credentials, exactly the operations that name a caller answer 401.
    for (const { method, path, url, op } of ops) {
      expect(op.tags?.length, `${method} ${path} has a tag`).toBe(1);
      if (op["x-caller"]) {
        const optional = op["x-caller"] === "credentials" ? [{}] : [];
        expect(op.security).toEqual([{ bearer: [] }, { session: [] }, ...optional]);
      } else {
        // Public: `security: []`, or an empty requirement first where credentials show more.
        const security = op.security ?? "missing";
        expect(security.length === 0 || JSON.stringify(security[0]) === "{}", `${method} ${path}`).toBe(true);
      }
      const bodiless = ["GET", "HEAD", "DELETE", "OPTIONS"].includes(method);
      const res = await fetch(`${stack.url}${url}`, {
        method,
        headers: bodiless ? {} : { "content-type": "application/json" },
        body: bodiless ? undefined : "{}",
      });
      await res.arrayBuffer();
      expect(res.status === 401, `${method} ${path} answered ${res.status}`).toBe(Boolean(op["x-caller"]));
    }
  });

  it("takes a browser from a problem's type to its entry, and from the footer to the page", async () => {
    const team = await stack.createTeam();
    const res = await fetch(`${stack.url}/api/v1/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${team.token}`, "content-type": "application/json" },
      body: "{}",
    });
    const problem = (await res.json()) as { type: string; code: string };
    expect(problem.code).toBe("HOLDOUT_ERR_NOT_MULTIPART");

    const page = await browser.newPage();
    try {
      await page.goto(new URL(problem.type, stack.url).href);
      const target = await page.evaluate(() => {
        const el = (globalThis as unknown as DomWindow).document.querySelector(":target");
        if (!el) return null;
        const style = (globalThis as unknown as DomWindow).getComputedStyle(el);
        return {
          id: el.id,
          text: el.textContent,
          border: style.borderLeftStyle,
          height: el.getBoundingClientRect().height,
        };
      });
      expect(target?.id).toBe("problem-holdout_err_not_multipart");
      expect(target?.text).toContain("HOLDOUT_ERR_NOT_MULTIPART");
      expect(target?.text).toContain("multipart/form-data");
      expect(target?.border).toBe("solid");
      expect(target?.height).toBeGreaterThan(0);

      // Every in-page link leads somewhere on the page.
      const broken = await page.evaluate(() =>
        Array.from((globalThis as unknown as DomWindow).document.querySelectorAll('a[href^="#"]'))
          .map((a) => a.getAttribute("href")!.slice(1))
          .filter((id) => !(globalThis as unknown as DomWindow).document.getElementById(id)),
      );
      expect(broken).toEqual([]);
      await saveScreenshot(page, "api-docs-desktop");

      // On a phone the page scrolls down, never sideways.
      await page.setViewportSize({ width: 375, height: 800 });
      const overflow = await page.evaluate(
        () =>
          (globalThis as unknown as DomWindow).document.documentElement.scrollWidth -
          (globalThis as unknown as DomWindow).innerWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await saveScreenshot(page, "api-docs-phone");

      // The footer's API link, from the leaderboard, opens the page (not raw JSON).
      await page.goto(`${stack.url}/`);
      await page.getByRole("link", { name: /^API/ }).click();
      await page.waitForURL(`${stack.url}/docs`);
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("API reference");
    } finally {
      await page.close();
    }
  });

  it("links an HTML error page's code to its entry", async () => {
    const res = await fetch(`${stack.url}/submissions/00000000-0000-4000-8000-000000000000`, {
      headers: { accept: "text/html" },
    });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain(
      `<a href="/docs#problem-holdout_err_not_found"><code>HOLDOUT_ERR_NOT_FOUND</code></a>`,
    );
  });
});
