import type { IncomingMessage } from "node:http";
import type Docker from "dockerode";

export interface ExitStatus {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

export interface ArmedWait {
  /** Settles when the container exits after arming (condition `next-exit`). */
  exited: Promise<ExitStatus>;
  /** Drops the request, e.g. when start() failed and no exit will ever come. */
  cancel(): void;
}

/**
 * Registers a `next-exit` waiter and returns once the engine has acknowledged it. The engine flushes
 * the response headers only after the waiter exists, so waiting for them (rather than for the whole
 * body, as dockerode's wait() does) guarantees that an exit following a later start() is not missed,
 * however fast the container is.
 */
export function armExitWait(docker: Docker, containerId: string): Promise<ArmedWait> {
  const abort = new AbortController();
  return new Promise<ArmedWait>((resolveArmed, rejectArmed) => {
    docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(containerId)}/wait?`,
        method: "POST",
        options: { condition: "next-exit" },
        isStream: true,
        abortSignal: abort.signal,
        statusCodes: { 200: true, 400: "bad parameter", 404: "no such container", 500: "server error" },
      },
      (err, res) => {
        if (err !== null) return rejectArmed(err);
        const body = res as IncomingMessage;
        const exited = readJson(body);
        // Once cancelled, nobody awaits `exited`; its rejection is expected and must not go unhandled.
        exited.catch(() => undefined);
        resolveArmed({ exited, cancel: () => abort.abort() });
      },
    );
  });
}

async function readJson(body: IncomingMessage): Promise<ExitStatus> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<ExitStatus>;
  if (typeof parsed.StatusCode !== "number") throw new Error("malformed wait response from the engine");
  return parsed as ExitStatus;
}
