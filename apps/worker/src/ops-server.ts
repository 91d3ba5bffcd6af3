import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checkReadiness, problemType, type ReadinessProbe, STATUS_TITLES } from "@holdout/contracts";
import type { Logger } from "./logger.ts";
import type { WorkerMetrics } from "./metrics.ts";

/**
 * The worker's operations endpoints, on their own port (the worker serves nothing else):
 *   GET /healthz  the process is alive
 *   GET /readyz   PostgreSQL, Redis and the Docker engine all answer (each bounded in time)
 *   GET /metrics  this worker's Prometheus metrics (metrics.ts)
 * Errors are RFC 9457 problem+json, as the API's. Plain node:http: no framework for three routes.
 */
export interface OpsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Default 0.0.0.0: the Compose healthcheck and Prometheus reach it from outside the process. */
  host?: string;
  db: { $queryRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<unknown> };
  redis: { ping(): Promise<unknown> };
  docker: { ping(): Promise<unknown> };
  metrics: WorkerMetrics;
  log?: Pick<Logger, "warn" | "error">;
  /** A dependency that has not answered after this long counts as down; default 2 s. */
  timeoutMs?: number;
}

export interface OpsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

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
    },
    "application/problem+json",
  );
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const probes: ReadinessProbe[] = [
    ["postgres", () => opts.db.$queryRaw`SELECT 1`],
    ["redis", () => opts.redis.ping()],
    ["docker", () => opts.docker.ping()],
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    const known = path === "/healthz" || path === "/readyz" || path === "/metrics";
    if (!known)
      return sendProblem(res, req, 404, "HOLDOUT_ERR_ROUTE_NOT_FOUND", `no route ${req.method} ${path}`);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return sendProblem(res, req, 405, "HOLDOUT_ERR_METHOD_NOT_ALLOWED", `${path} answers GET only`);
    }
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const { ready, checks, down } = await checkReadiness(probes, timeoutMs);
      if (ready) return sendJson(res, 200, { status: "ready", checks });
      opts.log?.warn({ problems: down }, "not ready");
      return sendProblem(
        res,
        req,
        503,
        "HOLDOUT_ERR_NOT_READY",
        `not ready: ${down.map((r) => r.name).join(", ")} unreachable`,
      );
    }
    const body = await opts.metrics.registry.metrics();
    res.writeHead(200, { "content-type": opts.metrics.registry.contentType });
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
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== "0.0.0.0" ? opts.host : "127.0.0.1";
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
