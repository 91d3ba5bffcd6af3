// Small, pure formatting helpers for the pages. Dates are shown in UTC, the competition's clock,
// and always next to a machine-readable <time datetime> so a script may localize them.

const DATE = new Intl.DateTimeFormat("en-US", {
  year: "numeric",
  month: "short",
  day: "2-digit",
  timeZone: "UTC",
});
const DATE_TIME = new Intl.DateTimeFormat("en-US", {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  // h23, not hour12: false, which en-US renders as "24:05" just after midnight.
  hourCycle: "h23",
  timeZone: "UTC",
});

/** "Sep 01, 2019", as the official leaderboard writes dates. */
export function formatDate(d: Date | string): string {
  return DATE.format(typeof d === "string" ? new Date(d) : d);
}

/** "Sep 01, 2019, 14:03:07 UTC". */
export function formatDateTime(d: Date | string): string {
  return `${DATE_TIME.format(typeof d === "string" ? new Date(d) : d)} UTC`;
}

/** "2 h 5 min", "45 s": a duration for people. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
}

/** Only http(s) links are ever put in an href: a stored `javascript:` URL must stay text. */
export function safeHref(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// Any origin of our own choosing: a path resolved against it stays on it, whatever it looks like.
const SELF = new URL("http://holdout.invalid/");

// Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so `/\t/evil.example`
// and `/\evil.example` reach them as `//evil.example`: such characters are refused outright, as are
// spaces and other controls, which no path of ours holds unencoded.
const UNSAFE_IN_PATH = /[\s\p{Cc}\p{Cf}\\]/u;

/**
 * A path on this site to return to after signing in, or `fallback`. Judged as the browser will:
 * resolved against our origin, it must still be our origin (which refuses `//host`, `/\host`,
 * `https:…`, `javascript:…`). The answer is the resolved path, query and fragment, percent-encoded,
 * so what is sent in Location is exactly what was checked (and never holds a byte a header cannot).
 */
export function localPath(next: unknown, fallback = "/"): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.length >= 500) return fallback;
  if (UNSAFE_IN_PATH.test(next)) return fallback;
  let url: URL;
  try {
    url = new URL(next, SELF);
  } catch {
    return fallback;
  }
  if (url.origin !== SELF.origin) return fallback;
  // Resolving can itself make `//`: `/..//evil.example` is the path `//evil.example`, which a browser
  // reads in Location as another host. The answer must be a path that cannot be read as one.
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith("//") ? fallback : path;
}

export const STATE_LABELS = {
  received: "Received",
  queued: "Queued",
  running: "Running",
  scoring: "Scoring",
  scored: "Scored",
  failed: "Failed",
  cancelled: "Cancelled",
} as const;

/** Text with `code` spans, split so a template can put each code span in <code> (and escape all). */
export type CodeText = { code: boolean; text: string }[];

export function codeSegments(text: string | undefined): CodeText {
  return (text ?? "").split("`").map((part, i) => ({ code: i % 2 === 1, text: part }));
}
