import type { Socket } from "node:net";
import type { ConnectionError } from "fastify";
import { problemBody } from "./plugins/problem-json.ts";

// Requests that Node's HTTP parser refuses never reach fastify: oversized headers, a request that
// did not arrive in time, bytes that are not HTTP. Node (and fastify's default) answer them with a
// bare status or a JSON of their own; these are the same refusals as problem+json, like every other.

interface ClientError {
  status: number;
  code: string;
  detail: string;
}

function clientErrorOf(code: string): ClientError {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        code: "HOLDOUT_ERR_HEADERS_TOO_LARGE",
        detail: "the request line and headers are over the server's limit of 16 KiB",
      };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return {
        status: 408,
        code: "HOLDOUT_ERR_REQUEST_TIMEOUT",
        detail: "the request did not arrive in full in time; send it again",
      };
    default:
      return {
        status: 400,
        code: "HOLDOUT_ERR_BAD_REQUEST",
        detail: `the request is not valid HTTP/1.1 (${code})`,
      };
  }
}

/** The request's path as its first line gives it, when that line arrived and is sane. */
export function requestTarget(rawPacket: unknown): string | undefined {
  if (!Buffer.isBuffer(rawPacket)) return undefined;
  const head = rawPacket.subarray(0, 4096).toString("latin1");
  return /^[A-Z]{3,10} (\/[\x21-\x7e]{0,2047}) HTTP\/1\.[01]\r?\n/.exec(head)?.[1];
}

/** How long a refused connection may keep sending before it is closed regardless. */
const LINGER_MS = 5_000;

/**
 * fastify's `clientErrorHandler`: answers the refusal as problem+json, then closes the connection
 * the gentle way. FIN after the answer, and whatever the client still sends is read (the parser
 * keeps refusing it, which lands here again and is ignored) until it closes or the time runs out:
 * destroying a socket with unread bytes would reset it and lose the answer.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  // Already answered (a later chunk of the same refused request), or nothing can be written.
  if (!socket.writable) return;
  const refusal = clientErrorOf(err.code);
  const instance = requestTarget(err.rawPacket);
  const body = JSON.stringify(
    problemBody({
      status: refusal.status,
      code: refusal.code,
      detail: refusal.detail,
      ...(instance ? { instance } : {}),
    }),
  );
  socket.end(
    [
      `HTTP/1.1 ${refusal.status} ${problemBody(refusal).title}`,
      "Content-Type: application/problem+json",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Cache-Control: no-store",
      "Connection: close",
      "",
      body,
    ].join("\r\n"),
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
