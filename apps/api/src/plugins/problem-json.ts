import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import FindMyWay from "find-my-way";
import { problemType, STATUS_TITLES } from "@holdout/contracts";
import type { FieldProblem } from "../errors.ts";
import { lingerOnClose } from "../lingering-close.ts";

// Errors raised by fastify and its plugins, mapped onto our catalogue so clients only ever see
// HOLDOUT_ERR_* codes.
export const FRAMEWORK_CODES: Record<string, { code: string; status: number }> = {
  FST_REQ_FILE_TOO_LARGE: { code: "HOLDOUT_ERR_UPLOAD_TOO_LARGE", status: 413 },
  FST_FILES_LIMIT: { code: "HOLDOUT_ERR_TOO_MANY_FILES", status: 400 },
  FST_FIELDS_LIMIT: { code: "HOLDOUT_ERR_TOO_MANY_FIELDS", status: 400 },
  FST_PARTS_LIMIT: { code: "HOLDOUT_ERR_TOO_MANY_PARTS", status: 400 },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: "HOLDOUT_ERR_NOT_MULTIPART", status: 415 },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "HOLDOUT_ERR_UNSUPPORTED_MEDIA_TYPE", status: 415 },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "HOLDOUT_ERR_BODY_TOO_LARGE", status: 413 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "HOLDOUT_ERR_INVALID_BODY", status: 400 },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "HOLDOUT_ERR_INVALID_BODY", status: 400 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "HOLDOUT_ERR_BAD_REQUEST", status: 400 },
  FST_ERR_VALIDATION: { code: "HOLDOUT_ERR_VALIDATION", status: 400 },
  // Raised before routing (frameworkErrors below): a path that is not valid percent-encoding, and a
  // path parameter over the router's length limit.
  FST_ERR_BAD_URL: { code: "HOLDOUT_ERR_BAD_REQUEST", status: 400 },
  FST_ERR_MAX_PARAM_LENGTH: { code: "HOLDOUT_ERR_URI_TOO_LONG", status: 414 },
};

/** What a 401 says about how to authenticate (RFC 9110 §11.6.1 requires one; RFC 6750 §3 its form). */
export const BEARER_CHALLENGE = 'Bearer realm="holdout"';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  /** The request's path; absent only when the request could not be read as HTTP at all. */
  instance?: string;
  errors?: FieldProblem[];
  retryAt?: string;
}

/** The problem body for a code, status and detail (the one place that shapes a problem). */
export function problemBody(p: Omit<Problem, "type" | "title">): Problem {
  return { type: problemType(p.code), title: STATUS_TITLES[p.status] ?? "Error", ...p };
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  p: Omit<Problem, "type" | "title" | "instance">,
) {
  // An error answered before the body was read in full (an upload refused mid-stream): close the
  // connection, or the unread rest of the body would stall the next request on this keep-alive
  // connection. Refusing early is the point; draining gigabytes to keep the socket is not. The
  // close lingers, so that a client still sending its body does not lose this answer to a reset.
  if (!request.raw.complete) {
    reply.header("connection", "close");
    lingerOnClose(request.raw);
  }
  const body = problemBody({ instance: request.url, ...p });
  return reply.status(p.status).type("application/problem+json").send(body);
}

type HoldoutError = FastifyError & {
  errors?: FieldProblem[];
  retryAt?: string;
  headers?: Record<string, string>;
};

/** Schema validation failures, one entry per field, named as the client sent it. */
function validationProblems(error: FastifyError): FieldProblem[] | undefined {
  if (!error.validation) return undefined;
  return error.validation.map((v) => {
    const params = v.params as { missingProperty?: string; additionalProperty?: string } | undefined;
    const named = params?.missingProperty ?? params?.additionalProperty;
    const field = [v.instancePath.replace(/^\//, "").replaceAll("/", "."), named].filter(Boolean).join(".");
    const message = params?.additionalProperty
      ? "is not a field of this endpoint (unknown fields are refused; /docs lists the fields)"
      : (v.message ?? "is invalid");
    return { field: field || (error.validationContext ?? "body"), message };
  });
}

/** The detail of a refused request: a validation failure names its fields, as `errors` does. */
function clientDetail(
  error: HoldoutError,
  request: FastifyRequest,
  errors: FieldProblem[] | undefined,
): string {
  if (error.code === "FST_REQ_FILE_TOO_LARGE")
    return "the uploaded file exceeds the size limit for submissions";
  if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    const sent = request.headers["content-type"]?.split(";")[0];
    return `${sent ? `a body of type ${sent}` : "a body without a Content-Type"} is not taken here: JSON endpoints take application/json, uploads multipart/form-data`;
  }
  if (error.validation && errors) {
    return `the ${error.validationContext ?? "request"} does not match this endpoint's schema: ${errors
      .map((e) => `\`${e.field}\` ${e.message}`)
      .join("; ")}`;
  }
  return error.message;
}

/** Problems for errors fastify raises before a request reaches a route (bad URL, long parameter). */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = (error.code && FRAMEWORK_CODES[error.code]) || {
    code: "HOLDOUT_ERR_BAD_REQUEST",
    status: 400,
  };
  void sendProblem(reply, request, { ...mapped, detail: error.message });
}

/**
 * Every path the API serves, whatever its method, so that a request with a method the path does not
 * answer gets 405 and `Allow` instead of "no such route". A second router, fed the same routes
 * fastify's gets; parameter names are normalised so that two spellings of one path meet.
 */
function knownPaths() {
  const router = FindMyWay();
  const methods = new Map<string, Set<string>>();
  return {
    add(method: string, url: string) {
      const pattern = url.replace(/:[A-Za-z0-9_]+/g, ":p");
      let set = methods.get(pattern);
      if (!set) {
        set = new Set();
        methods.set(pattern, set);
        router.on("GET", pattern, () => undefined, set);
      }
      set.add(method);
      // fastify answers HEAD wherever it answers GET (exposeHeadRoutes).
      if (method === "GET") set.add("HEAD");
    },
    allowed(path: string): string[] | null {
      const found = router.find("GET", path);
      return found ? [...(found.store as Set<string>)].sort() : null;
    },
  };
}

/** One error handler for the whole API: RFC 9457 problem+json, and nothing internal on 5xx. */
export const problemJson = fp(
  (app: FastifyInstance) => {
    const paths = knownPaths();
    app.addHook("onRoute", (route) => {
      for (const method of [route.method].flat()) paths.add(method, route.url ?? route.path);
    });

    // A request that arrives while the server closes (fastify's own answer, return503OnClosing, is
    // plain JSON and is turned off in app.ts): a problem, and the connection closed behind it.
    let closing = false;
    app.addHook("preClose", (done) => {
      closing = true;
      done();
    });
    app.addHook("onRequest", (request, reply, done) => {
      if (!closing) return done();
      void reply.header("connection", "close");
      void sendProblem(reply, request, {
        status: 503,
        code: "HOLDOUT_ERR_UNAVAILABLE",
        detail: "this server is shutting down; send the request again",
      });
    });

    app.setErrorHandler((error: HoldoutError, request, reply) => {
      const mapped = error.code ? FRAMEWORK_CODES[error.code] : undefined;
      const status = mapped?.status ?? error.statusCode ?? 500;
      if (status >= 500) {
        request.log.error({ err: error }, "request failed");
        return sendProblem(reply, request, {
          status,
          code: status === 503 ? (error.code ?? "HOLDOUT_ERR_UNAVAILABLE") : "HOLDOUT_ERR_INTERNAL",
          detail:
            status === 503
              ? error.message
              : `internal error; quote request id ${request.id} when reporting it`,
        });
      }
      const code =
        mapped?.code ?? (error.code?.startsWith("HOLDOUT_ERR_") ? error.code : "HOLDOUT_ERR_BAD_REQUEST");
      if (error.headers) reply.headers(error.headers);
      const errors = error.errors ?? validationProblems(error);
      return sendProblem(reply, request, {
        status,
        code,
        detail: clientDetail(error, request, errors),
        ...(errors ? { errors } : {}),
        ...(error.retryAt ? { retryAt: error.retryAt } : {}),
      });
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split("?")[0] ?? "/";
      const allowed = paths.allowed(path);
      if (allowed && !allowed.includes(request.method)) {
        void reply.header("allow", allowed.join(", "));
        return sendProblem(reply, request, {
          status: 405,
          code: "HOLDOUT_ERR_METHOD_NOT_ALLOWED",
          detail: `${path} does not answer ${request.method}; it answers ${allowed.join(", ")}`,
        });
      }
      return sendProblem(reply, request, {
        status: 404,
        code: "HOLDOUT_ERR_ROUTE_NOT_FOUND",
        detail: `no route ${request.method} ${path}`,
      });
    });

    // Every 401 says how to authenticate, whichever handler sent it (a page's too). Where a token
    // was sent and refused, auth.ts has already set the challenge with `error="invalid_token"`.
    app.addHook("onSend", (_request, reply, payload, next) => {
      if (reply.statusCode === 401 && !reply.hasHeader("www-authenticate")) {
        void reply.header("www-authenticate", BEARER_CHALLENGE);
      }
      next(null, payload);
    });
  },
  { name: "problem-json" },
);
