import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
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
  FST_ERR_VALIDATION: { code: "HOLDOUT_ERR_VALIDATION", status: 400 },
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
  errors?: FieldProblem[];
  retryAt?: string;
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
  const body: Problem = {
    type: problemType(p.code),
    title: STATUS_TITLES[p.status] ?? "Error",
    instance: request.url,
    ...p,
  };
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
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const field = [v.instancePath.replace(/^\//, "").replaceAll("/", "."), missing].filter(Boolean).join(".");
    return { field: field || (error.validationContext ?? "body"), message: v.message ?? "is invalid" };
  });
}

/** One error handler for the whole API: RFC 9457 problem+json, and nothing internal on 5xx. */
export const problemJson = fp(
  (app: FastifyInstance) => {
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
      const detail =
        error.code === "FST_REQ_FILE_TOO_LARGE"
          ? "the uploaded file exceeds the size limit for submissions"
          : error.message;
      if (error.headers) reply.headers(error.headers);
      const errors = error.errors ?? validationProblems(error);
      return sendProblem(reply, request, {
        status,
        code,
        detail,
        ...(errors ? { errors } : {}),
        ...(error.retryAt ? { retryAt: error.retryAt } : {}),
      });
    });

    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, request, {
        status: 404,
        code: "HOLDOUT_ERR_ROUTE_NOT_FOUND",
        detail: `no route ${request.method} ${request.url.split("?")[0]}`,
      }),
    );
  },
  { name: "problem-json" },
);
