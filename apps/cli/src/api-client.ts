import { UsageError } from "./usage-error.ts";

/** Where the participant commands talk to, and as whom. */
export interface Remote {
  server: string;
  token: string | null;
  /** A competition's slug: its own API and pages; absent, the server's default competition. */
  competition?: string | null;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The help of every participant command's `--competition`. */
export const COMPETITION_OPTION_HELP =
  "the competition's slug, for a server that hosts several (default: $HOLDOUT_COMPETITION, else the server's main one)";

/**
 * The URL of an API path written as the default competition's (`/api/v1/quota`): under
 * `/api/v1/competitions/<slug>/` when a competition is named. Paths that name one already, and the
 * server's own (`/api/v1/cli`, `/api/v1/competitions`), stay as they are.
 */
export function endpoint(remote: Remote, path: string): string {
  const slug = remote.competition;
  const scoped =
    slug && path.startsWith("/api/v1/") && !/^\/api\/v1\/(competitions|cli)(\/|$|\?)/.test(path)
      ? `/api/v1/competitions/${encodeURIComponent(slug)}/${path.slice("/api/v1/".length)}`
      : path;
  return `${remote.server}${scoped}`;
}

/** A page's URL (`/submissions/<id>`), under `/c/<slug>` when a competition is named. */
export function pageUrl(remote: Remote, path: string): string {
  return `${remote.server}${remote.competition ? `/c/${encodeURIComponent(remote.competition)}` : ""}${path}`;
}

/** --server / --token / --competition, else HOLDOUT_SERVER / HOLDOUT_TOKEN / HOLDOUT_COMPETITION. */
export function remoteFrom(
  opts: { server?: string; token?: string; competition?: string },
  env: NodeJS.ProcessEnv,
  needToken: boolean,
): Remote {
  const server = (opts.server ?? env.HOLDOUT_SERVER ?? "").trim().replace(/\/+$/, "");
  if (!server) throw new UsageError("no server: pass --server URL or set HOLDOUT_SERVER");
  if (!/^https?:\/\/[^\s]+$/i.test(server)) {
    throw new UsageError(`--server must be an http(s) URL, not ${JSON.stringify(server)}`);
  }
  const token = (opts.token ?? env.HOLDOUT_TOKEN ?? "").trim() || null;
  if (needToken && !token) throw new UsageError("no API token: pass --token TOKEN or set HOLDOUT_TOKEN");
  const competition = (opts.competition ?? env.HOLDOUT_COMPETITION ?? "").trim() || null;
  if (competition !== null && !SLUG.test(competition)) {
    throw new UsageError(
      `--competition must be a competition's slug (lowercase letters, digits and -), not ${JSON.stringify(competition)}`,
    );
  }
  return { server, token, competition };
}

/** A refusal from the server (RFC 9457 problem+json), printed as one line. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${detail} (${code}, HTTP ${status})`);
    this.name = "ApiError";
  }
}

export function authHeaders(remote: Remote): Record<string, string> {
  return remote.token ? { authorization: `Bearer ${remote.token}` } : {};
}

/** Turns a non-2xx answer into an ApiError with the problem's detail and code. */
export async function problemOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const p = JSON.parse(text) as { detail?: string; code?: string };
    if (p.detail) return new ApiError(res.status, p.code ?? "HOLDOUT_ERR_UNKNOWN", p.detail);
  } catch {
    // not JSON: fall through to the raw text
  }
  return new ApiError(res.status, "HTTP_ERROR", text.trim().slice(0, 200) || res.statusText);
}

// Set when the server packaged this command (apps/api/src/services/cli-package.ts); a checkout's
// `npx holdout` is the server's own and compares nothing.
const CLI_VERSION = process.env.HOLDOUT_CLI_VERSION;
let versionWarned = false;

/** Warns once, on standard error, when the server runs another version than this command. */
export function noteServerVersion(remote: Remote, res: Response): void {
  const server = res.headers.get("holdout-version");
  if (!CLI_VERSION || !server || server === CLI_VERSION || versionWarned) return;
  versionWarned = true;
  console.error(
    `holdout: warning: this command is version ${CLI_VERSION}, the server runs ${server}; install the server's: npm install -g ${remote.server}/cli/holdout-cli-${server}.tgz`,
  );
}

/**
 * One request to the server's API (`path` as the default competition's, see endpoint), as the
 * team: a server that cannot be reached is named with the reason, a version mismatch noted once,
 * and a refusal thrown as an ApiError with the problem's detail and code.
 */
export async function request(remote: Remote, path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(endpoint(remote, path), {
      ...init,
      headers: {
        accept: "application/json",
        ...authHeaders(remote),
        ...(init.headers as Record<string, string>),
      },
    });
  } catch (err) {
    const cause = (err as Error).cause;
    const reason = cause instanceof Error ? cause.message : (err as Error).message;
    throw new Error(`cannot reach ${remote.server}: ${reason}`, { cause: err });
  }
  noteServerVersion(remote, res);
  if (!res.ok) throw await problemOf(res);
  return res;
}

export async function getJson<T>(remote: Remote, path: string): Promise<T> {
  return (await (await request(remote, path)).json()) as T;
}

export async function postJson<T>(remote: Remote, path: string): Promise<T> {
  return (await (await request(remote, path, { method: "POST" })).json()) as T;
}
