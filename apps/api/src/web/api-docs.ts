import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { PROBLEMS, problemAnchor, STATUS_TITLES } from "@holdout/contracts";
import { codeSegments, type CodeText } from "./format.ts";
import { prefersHtml, renderPage, type WebContext } from "./render.ts";

// The API's reference page. /docs answers a browser with a page built from the same OpenAPI
// document (so it cannot drift from the routes' schemas) and every other client with the document
// itself, as it always has; /docs/openapi.json is the document for any client. The page also holds
// the catalogue of problem codes, one anchor each, which is where every problem's `type` points.

/** The part of an OpenAPI 3 schema object this page reads. */
interface JsonSchema {
  type?: string;
  format?: string;
  nullable?: boolean;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

interface OpenApiOperation {
  summary?: string;
  description?: string;
  tags?: string[];
  "x-caller"?: Caller;
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: JsonSchema }> }>;
}

export interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>;
}

/**
 * Who may call an operation: what the route's auth hook demands, or what its `config.caller`
 * says where the handler itself checks (a token is issued for a password or for a token).
 */
export type Caller = "team" | "organizer" | "signed-in" | "credentials";

declare module "fastify" {
  interface FastifyContextConfig {
    caller?: Caller;
  }
}

interface Field {
  name: string;
  type: string;
  required: boolean;
  description: CodeText;
}

interface OperationView {
  anchor: string;
  method: string;
  path: string;
  summary: CodeText;
  description: CodeText;
  caller: string;
  params: (Field & { in: string })[];
  /** Its fields; a body that is not an object (a file's bytes) has none, and says what it is. */
  body: { contentType: string; fields: Field[]; description: CodeText } | null;
  responses: { status: string; meaning: string; fields: string[] }[];
}

interface GroupView {
  anchor: string;
  title: string;
  operations: OperationView[];
}

/** The operation groups in page order, by path; the first match names an operation's tag. */
const GROUPS: [title: string, test: (path: string) => boolean][] = [
  ["Submissions", (p) => p.startsWith("/api/v1/submissions") || p === "/api/v1/quota"],
  ["Resumable uploads", (p) => p.startsWith("/api/v1/uploads")],
  ["Leaderboard", (p) => p.startsWith("/api/v1/leaderboard") || p.startsWith("/leaderboard")],
  [
    "Accounts and tokens",
    (p) => ["/api/v1/teams", "/api/v1/tokens", "/api/v1/session"].some((a) => p.startsWith(a)),
  ],
  ["Organizers", (p) => p.startsWith("/api/v1/admin")],
];
const OTHER_GROUP = "Other";

export function tagOf(path: string): string {
  return GROUPS.find(([, test]) => test(path))?.[0] ?? OTHER_GROUP;
}

const CALLERS: Record<Caller, string> = {
  team: "a team's token or session",
  organizer: "an organizer's token or session",
  "signed-in": "any token or session",
  credentials: "an account's email and password, or any token or session",
};

/** A schema's type in a few words: `string (1–100 chars)`, `integer or null`, `array of string`. */
export function typeLabel(schema: JsonSchema | undefined): string {
  if (!schema) return "any";
  if (schema.anyOf) return [...new Set(schema.anyOf.map(typeLabel))].join(" or ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  let label = schema.type === "array" ? `array of ${typeLabel(schema.items)}` : (schema.type ?? "any");
  if (schema.format) label += ` (${schema.format})`;
  const lo = schema.minLength ?? schema.minimum;
  const hi = schema.maxLength ?? schema.maximum;
  const unit = schema.type === "string" ? " chars" : "";
  if (lo !== undefined && hi !== undefined) label += `, ${lo}–${hi}${unit}`;
  else if (hi !== undefined) label += `, at most ${hi}${unit}`;
  else if (lo !== undefined) label += `, at least ${lo}${unit}`;
  if (schema.nullable) label += " or null";
  return label;
}

function fieldsOf(schema: JsonSchema | undefined): Field[] {
  const required = new Set(schema?.required ?? []);
  return Object.entries(schema?.properties ?? {}).map(([name, s]) => ({
    name,
    type: typeLabel(s),
    required: required.has(name),
    description: codeSegments(s.description),
  }));
}

/** The top-level field names of an object body (of any of its shapes). */
function fieldNames(schema: JsonSchema | undefined): string[] {
  if (!schema) return [];
  if (schema.anyOf) return [...new Set(schema.anyOf.flatMap(fieldNames))];
  return Object.keys(schema.properties ?? {});
}

const SUCCESS_TITLES: Record<string, string> = {
  "200": "OK",
  "201": "Created",
  "202": "Accepted",
  "204": "No Content",
};

function responseMeaning(status: string, content: Record<string, unknown> | undefined): string {
  if (/^[45]/i.test(status)) return "a problem (application/problem+json)";
  const types = Object.keys(content ?? {});
  const title = SUCCESS_TITLES[status] ?? "Success";
  return types.length > 0 ? `${title}: ${types.join(", ")}` : title;
}

function operationView(path: string, method: string, op: OpenApiOperation): OperationView {
  const [contentType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
  return {
    anchor: `op-${method}-${path.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "")}`.toLowerCase(),
    method: method.toUpperCase(),
    path,
    summary: codeSegments(op.summary),
    description: codeSegments(op.description),
    caller: op["x-caller"] ? CALLERS[op["x-caller"]] : "anyone",
    params: (op.parameters ?? []).map((p) => ({
      name: p.name,
      in: p.in,
      type: typeLabel(p.schema),
      required: p.required ?? false,
      description: codeSegments(p.description ?? p.schema?.description),
    })),
    body: contentType
      ? {
          contentType,
          fields: fieldsOf(media?.schema),
          description: codeSegments(media?.schema?.description),
        }
      : null,
    responses: Object.entries(op.responses ?? {}).map(([status, r]) => ({
      status: status.toUpperCase(),
      meaning: responseMeaning(status, r.content),
      fields: /^2/.test(status) ? fieldNames(r.content?.["application/json"]?.schema) : [],
    })),
  };
}

/** The page's operations, grouped as GROUPS orders them, each group in the document's order. */
export function apiReference(doc: OpenApiDocument): GroupView[] {
  const byTag = new Map<string, OperationView[]>();
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? tagOf(path);
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationView(path, method, op)]);
    }
  }
  return [...GROUPS.map(([title]) => title), OTHER_GROUP]
    .filter((title) => byTag.has(title))
    .map((title) => ({
      anchor: `group-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`,
      title,
      operations: byTag.get(title)!,
    }));
}

const PROBLEM_VIEWS = PROBLEMS.map((p) => ({
  anchor: problemAnchor(p.code),
  code: p.code,
  status: p.status,
  title: STATUS_TITLES[p.status] ?? "",
  meaning: codeSegments(p.meaning),
}));

/** GET /docs (the page or the document, by Accept) and GET /docs/openapi.json. */
export const apiDocs: FastifyPluginCallback<{ web: WebContext }> = (app, opts, done) => {
  // Built on first use: the document is complete only once every route is registered.
  let groups: GroupView[] | null = null;
  const openapi = () => app.swagger() as OpenApiDocument;

  const page = (request: FastifyRequest, reply: FastifyReply) => {
    groups ??= apiReference(openapi());
    return renderPage(opts.web, request, reply, "api-docs", {
      title: "API reference",
      groups,
      problems: PROBLEM_VIEWS,
    });
  };

  app.get("/docs", { schema: { hide: true } }, (request, reply) => {
    void reply.header("vary", "accept");
    if (prefersHtml(request)) return page(request, reply);
    return reply.type("application/json; charset=utf-8").send(openapi());
  });
  app.get("/docs/openapi.json", { schema: { hide: true } }, (_request, reply) =>
    reply.type("application/json; charset=utf-8").send(openapi()),
  );
  done();
};
