import type { IncomingMessage } from "node:http";

/** Longest a refused request's connection stays open reading what its client still sends. */
export const LINGER_TOTAL_MS = 30_000;
/** Longest it waits for the client's next bytes while lingering. */
export const LINGER_IDLE_MS = 5_000;

/**
 * Closes the connection of a request that was answered before its body was read in full (an upload
 * refused mid-stream) the way nginx's lingering close does: after the response, send FIN, then
 * read and discard what the client still sends until its body ends or the time runs out, and only
 * then close.
 *
 * Closing a socket with unread bytes in its receive queue makes the kernel send a reset, and a
 * client that reads its answer only after sending the whole body (a browser's upload, curl) loses
 * the answer to that reset: the user sees "connection reset" instead of which field was wrong.
 *
 * Node closes a response marked `connection: close` through the socket's `destroySoon()`; this
 * replaces that one socket's `destroySoon()` with the lingering version. Call it only for a
 * response that closes its connection.
 */
export function lingerOnClose(
  request: IncomingMessage,
  limits: { totalMs: number; idleMs: number } = { totalMs: LINGER_TOTAL_MS, idleMs: LINGER_IDLE_MS },
): void {
  const socket = request.socket;
  if (socket.destroyed) return;
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    let closing = false;
    const close = () => {
      if (closing) return;
      closing = true;
      clearTimeout(total);
      // The response's last bytes are flushed before the socket goes.
      if (socket.writableFinished || socket.destroyed) socket.destroy();
      else socket.once("finish", () => socket.destroy());
    };
    const total = setTimeout(close, limits.totalMs);
    total.unref();
    socket.setTimeout(limits.idleMs, close);
    socket.once("close", () => clearTimeout(total));
    if (request.readableEnded) return close();
    // Whatever still arrives for the refused body is read and dropped.
    request.once("end", close);
    request.unpipe();
    request.resume();
  };
}
