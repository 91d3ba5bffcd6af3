import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";

export const REQUEST_ID_HEADER = "x-request-id";
// A caller's id is kept only when it is short and plain: it lands in every log line of the request.
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's `genReqId`: the id a reverse proxy or client sent in X-Request-ID, so one id follows a
 * request across hops; otherwise a fresh UUID. Passed to Fastify() in app.ts.
 */
export function genRequestId(raw: IncomingMessage): string {
  const sent = raw.headers[REQUEST_ID_HEADER];
  return typeof sent === "string" && ACCEPTABLE_ID.test(sent) ? sent : randomUUID();
}

/** The submission a request is about: `:id` on /api/v1/submissions/:id/..., else none. */
function submissionIdOf(request: FastifyRequest): string | undefined {
  const route = request.routeOptions.url ?? "";
  if (!route.startsWith("/api/v1/submissions/:id")) return undefined;
  const { id } = (request.params ?? {}) as { id?: unknown };
  return typeof id === "string" ? id : undefined;
}

function parseId(payload: string): string | undefined {
  try {
    const { id } = JSON.parse(payload) as { id?: unknown };
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined; // not the JSON answer this hook looks for: nothing to bind
  }
}

/**
 * Echoes the request id in every response (X-Request-ID) and puts the submission id on the log
 * lines of requests about one: from the route's `:id`, or, for an accepted upload, from the answer.
 */
export const requestId = fp(
  (app: FastifyInstance, _opts: object, done: (err?: Error) => void) => {
    app.addHook("onRequest", (request, reply, next) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      const submissionId = submissionIdOf(request);
      // reply.log writes the "request completed" line: both carry the binding.
      if (submissionId) request.log = reply.log = request.log.child({ submissionId });
      next();
    });
    app.addHook("onSend", (request, reply, payload, next) => {
      if (
        request.method === "POST" &&
        request.routeOptions.url === "/api/v1/submissions" &&
        reply.statusCode === 202 &&
        typeof payload === "string"
      ) {
        const submissionId = parseId(payload);
        if (submissionId) {
          request.log = reply.log = request.log.child({ submissionId });
          request.log.info("submission received");
        }
      }
      next(null, payload);
    });
    done();
  },
  { name: "request-id" },
);
