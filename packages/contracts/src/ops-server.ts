import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { problemType, STATUS_TITLES } from "./problems.ts";
import { checkReadiness, type ReadinessProbe } from "./readiness.ts";

/**
 * A process's operations endpoints, on a listener of their own, apart from anything the public
 * reaches (the API's and the worker's alike):
 *   GET /healthz  the process is alive
 *   GET /readyz   every dependency answers (each probe bounded in time), with the process's details
 *   GET /metrics  the process's Prometheus metrics
 * Errors are RFC 9457 problem+json. Plain node:http: no framework for three routes.
 */
export interface OpsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Loopback keeps it to this host; a container gives 0.0.0.0 to let Prometheus in from its network. */
  host: string;
  probes: ReadinessProbe[];
  /**
   * What /readyz adds to its answer, ready or not (the worker: its engine's image store, the image
   * IDs it runs, free disk space). Facts for the operator, never secrets; a failure leaves them out.
   */
  details?: () => Promise<Record<string, unknown>>;
  /** What /metrics serves: a prom-client Registry. */
  metrics: { contentType: string; metrics(): Promise<string> };
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** A dependency that has not answered after this long counts as down; default 2 s. */
  timeoutMs?: number;
}

export interface OpsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

function sendJson(res: ServerResponse, status: number, body: unknown, type = "application/json") {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

function sendProblem(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  code: string,
  detail: string,
  /** RFC 9457 extension members. */
  extra: Record<string, unknown> = {},
) {
  sendJson(
    res,
    status,
    {
      type: problemType(code),
      title: STATUS_TITLES[status] ?? "Error",
      status,
      detail,
      code,
      instance: req.url ?? "/",
      ...extra,
    },
    "application/problem+json",
  );
}

/** The details, bounded in time like the probes: a slow engine must not hold /readyz. */
async function readyDetails(opts: OpsServerOptions, timeoutMs: number): Promise<Record<string, unknown>> {
  if (!opts.details) return {};
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      opts.details(),
      new Promise<Record<string, unknown>>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no details within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    opts.log?.warn({ err }, "readiness details unavailable");
    return {};
  } finally {
    clearTimeout(timer);
  }
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const timeoutMs = opts.timeoutMs ?? 2000;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (!PATHS.has(path)) {
      return sendProblem(res, req, 404, "HOLDOUT_ERR_ROUTE_NOT_FOUND", `no route ${req.method} ${path}`);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return sendProblem(
        res,
        req,
        405,
        "HOLDOUT_ERR_METHOD_NOT_ALLOWED",
        `${path} answers GET and HEAD only`,
      );
    }
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const [{ ready, checks, down }, details] = await Promise.all([
        checkReadiness(opts.probes, timeoutMs),
        readyDetails(opts, timeoutMs),
      ]);
      if (ready) return sendJson(res, 200, { status: "ready", checks, ...details });
      opts.log?.warn({ problems: down }, "not ready");
      // Which dependency is down, not why: the reasons (addresses, messages) stay in the log.
      return sendProblem(
        res,
        req,
        503,
        "HOLDOUT_ERR_NOT_READY",
        `not ready: ${down.map((r) => `${r.name} ${r.failing}`).join(", ")}`,
        { checks, ...details },
      );
    }
    const body = await opts.metrics.metrics();
    res.writeHead(200, { "content-type": opts.metrics.contentType, "cache-control": "no-store" });
    res.end(body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log?.error({ err }, "ops endpoint failed");
      if (!res.headersSent) sendProblem(res, req, 500, "HOLDOUT_ERR_INTERNAL", "internal error");
      else res.destroy();
    });
  });
  // Scrapes and probes are short: do not let a stuck client hold a socket.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
