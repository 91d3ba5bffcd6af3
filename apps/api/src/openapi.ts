import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { ProblemSchema } from "@holdout/contracts/http";
import { tagOf, type Caller } from "./web/api-docs.ts";

// The OpenAPI 3.0 document at /docs/openapi.json, generated from the route schemas so that it cannot
// drift from them, then completed with what the schemas cannot say: who may call each operation,
// that every error is problem+json, and an operationId for each operation. A test validates it.

const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };

/** The error responses every operation may give, whatever its route declares. */
const ERROR_RESPONSES: Record<string, string> = {
  "4XX":
    "A problem (RFC 9457): the request was refused; `code` says why and `type` links to its entry on /docs. A 401 carries `WWW-Authenticate: Bearer`, a 405 `Allow`, a 429 `Retry-After`.",
  "5XX": "A problem (RFC 9457): the server failed, or a service it needs is down (503); nothing was charged.",
};

/** Who may call a route, by the auth hook it runs first; undefined when anyone may. */
function callerOf(app: FastifyInstance, onRequest: unknown): Caller | undefined {
  const hooks = [onRequest].flat();
  if (hooks.includes(app.requireOrganizer)) return "organizer";
  if (hooks.includes(app.requireTeam)) return "team";
  if (hooks.includes(app.requireAuth)) return "signed-in";
  return undefined;
}

/**
 * An operation's id, for client generators (their method names): the method and the path's words,
 * camel-cased, parameters as `By<Name>` (`GET /api/v1/submissions/:id/log` →
 * `getSubmissionsByIdLog`). One rule for every route, so ids are unique, predictable, and cannot be
 * forgotten; a route may still name its own.
 */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1/, "")
    .split(/[/.\-_]+/)
    .filter(Boolean)
    .map((w) => (w.startsWith(":") ? `by-${w.slice(1)}` : w))
    .flatMap((w) => w.split("-"));
  return [method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join("");
}

type Json = Record<string, unknown>;

/** Error responses as what they are: problem+json, one shared schema, present on every operation. */
function problemResponses(responses: Json): Json {
  const out: Json = {};
  for (const [status, response] of Object.entries(responses)) {
    const isError = /^[45]/.test(status) || status === "default";
    out[status] = isError
      ? {
          description: ERROR_RESPONSES[status.toUpperCase()] ?? (response as Json).description,
          content: { "application/problem+json": { schema: PROBLEM_REF } },
        }
      : response;
  }
  for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
    out[status] ??= { description, content: { "application/problem+json": { schema: PROBLEM_REF } } };
  }
  return out;
}

/** The options of @fastify/swagger for this API. */
export function openapiOptions(app: FastifyInstance): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: "3.0.3",
      // Relative: the document describes the server that serves it, wherever it is deployed.
      servers: [{ url: "/" }],
      info: {
        title: "Holdout API",
        version: "1",
        description:
          "Submit containerized models, follow their evaluation, read the leaderboard. Errors are RFC 9457 problems (`application/problem+json`) with a stable `code`; unknown fields in a JSON body are refused (400, `errors` names them).",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "An API token (team or organizer)" },
          session: {
            type: "apiKey",
            in: "cookie",
            name: "holdout_session",
            description: "The web's session",
          },
        },
      },
    },
    // Each operation says who may call it (read from its auth hook, so it cannot drift from what
    // the route enforces), carries its group's tag and has an operationId.
    transform: ({ schema, url, route }) => {
      if (!schema || schema.hide) return { schema, url };
      const method = [route.method].flat()[0] ?? "GET";
      const caller = route.config?.caller ?? callerOf(app, route.onRequest);
      const given = (schema as { operationId?: string }).operationId;
      const named = { ...schema, tags: [tagOf(url)], operationId: given ?? operationIdOf(method, url) };
      // A route may state its own requirement (credentials that are optional but change the answer).
      if ((schema as { security?: unknown }).security) return { schema: named, url };
      // Public: the empty list says so (a document-wide default would otherwise apply).
      if (!caller) return { schema: { ...named, security: [] }, url };
      // A password instead of a token: the empty requirement makes the two schemes optional.
      const security: Record<string, string[]>[] = [
        { bearer: [] },
        { session: [] },
        ...(caller === "credentials" ? [{}] : []),
      ];
      return { schema: { ...named, security, "x-caller": caller }, url };
    },
    transformObject: (doc) => {
      if (!("openapiObject" in doc)) return doc.swaggerObject;
      const openapi = doc.openapiObject as Json & { paths?: Record<string, Record<string, Json>> };
      for (const operations of Object.values(openapi.paths ?? {})) {
        for (const operation of Object.values(operations)) {
          operation.responses = problemResponses((operation.responses ?? {}) as Json);
          // @fastify/swagger marks every body required; a route says when its body is optional.
          if (operation["x-request-body-optional"]) {
            delete operation["x-request-body-optional"];
            (operation.requestBody as Json).required = false;
          }
        }
      }
      const components = (openapi.components ?? {}) as Json;
      // JSON's round trip drops TypeBox's own (symbol) keys: what is left is the plain schema.
      const problem = JSON.parse(JSON.stringify(ProblemSchema)) as Json;
      components.schemas = { ...(components.schemas as Json | undefined), Problem: problem };
      return { ...openapi, components };
    },
  };
}
